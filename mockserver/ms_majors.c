/* pgtls mockserver: what differs on the wire between PostgreSQL majors, so a
 * scenario's `server_version` picks the behaviour of that major
 * (docs/mockserver.md, "Server majors").
 *
 * Today: the source location (ErrorResponse fields F, L, R) of the errors a
 * client sees during connection start-up. Drivers such as pg8000 print every
 * field, so a mock that claims PostgreSQL 17 must send 17's line numbers.
 * Each row was measured with pg8000 against the real server of that major
 * (the fidelity harness's servers: Debian's 15.18, and 16.14, 17.10, 18.4
 * from fidelity/servers); docs/fidelity.md has the recipe. */
#include "ms_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS_MAJOR_FIRST 15
#define MS_MAJOR_LAST 18
#define MS_MAJORS (MS_MAJOR_LAST - MS_MAJOR_FIRST + 1)

typedef struct {
    const char *file, *line, *routine;
} ms_src_loc;

static const struct {
    const char *sqlstate;
    const char *message_prefix;
    ms_src_loc at[MS_MAJORS]; /* 15, 16, 17, 18 */
} error_locations[] = {
    {"28000",
     "no pg_hba.conf entry",
     {{"auth.c", "544", "ClientAuthentication"},
      {"auth.c", "550", "ClientAuthentication"},
      {"auth.c", "548", "ClientAuthentication"},
      {"auth.c", "537", "ClientAuthentication"}}},
    {"28P01",
     "password authentication failed",
     {{"auth.c", "334", "auth_failed"},
      {"auth.c", "334", "auth_failed"},
      {"auth.c", "332", "auth_failed"},
      {"auth.c", "320", "auth_failed"}}},
    {"42704",
     "unrecognized configuration parameter",
     {{"guc.c", "5734", "find_option"},
      {"guc.c", "1244", "find_option"},
      {"guc.c", "1171", "assignable_custom_variable_name"},
      {"guc.c", "1169", "assignable_custom_variable_name"}}},
    {"3D000",
     "database \"",
     {{"postinit.c", "948", "InitPostgres"},
      {"postinit.c", "1023", "InitPostgres"},
      {"postinit.c", "1034", "InitPostgres"},
      {"postinit.c", "1016", "InitPostgres"}}},
};

int ms_major_of(const char *server_version)
{
    int major = 0;
    if (!server_version || sscanf(server_version, "%d", &major) != 1 || major < 1)
        return MS_MAJOR_DEFAULT;
    return major;
}

int ms_major_error_location(int pg_major, const char *sqlstate, const char *message,
                            const char **file, const char **line, const char **routine)
{
    /* Majors outside the measured range take the nearest measured one. */
    int idx = pg_major < MS_MAJOR_FIRST  ? 0
              : pg_major > MS_MAJOR_LAST ? MS_MAJORS - 1
                                         : pg_major - MS_MAJOR_FIRST;
    if (!sqlstate || !message)
        return 0;
    for (size_t i = 0; i < sizeof(error_locations) / sizeof(error_locations[0]); i++) {
        if (strcmp(sqlstate, error_locations[i].sqlstate) != 0 ||
            strncmp(message, error_locations[i].message_prefix,
                    strlen(error_locations[i].message_prefix)) != 0)
            continue;
        *file = error_locations[i].at[idx].file;
        *line = error_locations[i].at[idx].line;
        *routine = error_locations[i].at[idx].routine;
        return 1;
    }
    return 0;
}
