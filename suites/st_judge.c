/* pgtls suites: the verdict chain expect -> classify -> deviation -> verdict,
 * in one place (st.h, "Judgement"). */
#include <string.h>

#include "st.h"

st_judgement st_judge(const st_case *c, const char *libpq_version, json_t *events, json_t *result,
                      const st_deviations *deviations)
{
    st_judgement j;
    int known;

    memset(&j, 0, sizeof(j));
    j.expected = st_expect(c, st_libpq_major(libpq_version));
    j.observed = st_classify(events, result);
    known = st_deviation_judge(deviations, c, j.expected.cls, j.observed.cls,
                               st_libpq_major(libpq_version), &j.deviation, &j.missed_prediction);
    if (!known)
        memset(&j.deviation, 0, sizeof(j.deviation));
    j.verdict = st_verdict_for(j.expected.cls, j.observed.cls, known);
    return j;
}

int st_verdict_is_failure(st_verdict v)
{
    return v == ST_FAILS || v == ST_VERDICT_ERROR;
}
