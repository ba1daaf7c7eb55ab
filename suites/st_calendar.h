/* pgtls suites: the rotation calendar (suites/calendar.ini,
 * docs/rotation-in-time.md): when each group of servers changes chain. */
#ifndef PGTLS_ST_CALENDAR_H
#define PGTLS_ST_CALENDAR_H

#include <stddef.h>
#include <time.h>

#include "err.h"

typedef struct st_cal_group {
    char *name;
    char *description;
    char *date;   /* YYYY-MM-DD, the day the group serves `after` */
    char *before; /* scenario served until then */
    char *after;  /* scenario served from then on */
} st_cal_group;

typedef struct st_calendar {
    char *path;
    char *version;
    char *horizon; /* YYYY-MM-DD: "survives through" this date */
    st_cal_group *groups;
    size_t num_groups;
} st_calendar;

/* The shipped calendar: $PGTLS_CALENDAR, else <data root>/suites/calendar.ini. */
const char *st_calendar_default_path(void);

/* Parses and checks (dates, every field present) a calendar. Returns NULL
 * with "FILE: problem (fix)" in err. */
st_calendar *st_calendar_load(const char *path, pgtls_err *err);
void st_calendar_free(st_calendar *cal);

/* The version of the shipped calendar (static string), or NULL when it
 * cannot be read. */
const char *st_calendar_version(void);

#endif
