/* pgtls certs-gen: distinguished names and dates of the catalogue.
 *
 * Look-alikes must copy a real certificate's DN byte for byte, including the
 * ASN.1 string type of every attribute (PrintableString vs UTF8String,
 * RFC 5280 4.1.2.4): the catalogue states it per certificate (dn_string) or
 * per attribute ("CN:utf8=..."), and we set it explicitly instead of letting
 * OpenSSL pick by its global string mask. */
#include <ctype.h>
#include <openssl/bio.h>
#include <openssl/objects.h>
#include <stdlib.h>
#include <string.h>

#include "ca_internal.h"

/* PrintableString alphabet (X.680 41.4). */
static int is_printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!(isalnum(ch) || strchr(" '()+,-./:=?", ch)))
            return 0;
    }
    return 1;
}

static int string_type(const char *name, const char *dflt, int nid, const char *value, size_t n,
                       int *out, pgtls_err *err)
{
    if (nid == NID_pkcs9_emailAddress || nid == NID_domainComponent) {
        *out = V_ASN1_IA5STRING; /* RFC 5280 4.1.2.6 and RFC 4519 */
        return 0;
    }
    if (nid == NID_countryName) {
        if (n != 2 || !is_printable(value, n))
            return err_set(err, PGTLS_ERR_INPUT, "C must be a two-letter country code");
        *out = V_ASN1_PRINTABLESTRING;
        return 0;
    }
    if (strcmp(dflt, "printable") == 0) {
        if (!is_printable(value, n))
            return err_set(err, PGTLS_ERR_INPUT,
                           "%s value '%.*s' has characters a PrintableString cannot hold (use "
                           "%s:utf8=)",
                           name, (int)n, value, name);
        *out = V_ASN1_PRINTABLESTRING;
    } else if (strcmp(dflt, "utf8") == 0) {
        *out = V_ASN1_UTF8STRING;
    } else if (strcmp(dflt, "auto") == 0) {
        *out = is_printable(value, n) ? V_ASN1_PRINTABLESTRING : V_ASN1_UTF8STRING;
    } else {
        return err_set(err, PGTLS_ERR_INPUT,
                       "string type '%s' is unknown (use printable, utf8 or auto)", dflt);
    }
    return 0;
}

X509_NAME *ca_dn_parse(const char *text, const char *dflt, pgtls_err *err)
{
    X509_NAME *name = X509_NAME_new();
    const char *p = text;
    char *value = malloc(strlen(text) + 1);
    int ok = 0, count = 0;

    ENSURE(name && value, err, PGTLS_ERR_NOMEM, "out of memory");
    while (*p) {
        char attr[64], type[16] = "";
        size_t alen = 0, vlen = 0;
        const char *colon;
        int nid, asn1_type = 0;

        while (*p == ' ' || *p == '\t')
            p++;
        while (*p && *p != '=' && *p != ',' && alen + 1 < sizeof(attr))
            attr[alen++] = *p++;
        attr[alen] = '\0';
        while (alen && attr[alen - 1] == ' ')
            attr[--alen] = '\0';
        ENSURE(*p == '=', err, PGTLS_ERR_INPUT,
               "'%s' is not ATTR=value (DNs look like C=US, O=Example, CN=Name)", attr);
        p++;
        colon = strchr(attr, ':');
        if (colon) {
            snprintf(type, sizeof(type), "%s", colon + 1);
            attr[colon - attr] = '\0';
        }
        while (*p == ' ')
            p++;
        while (*p && *p != ',') {
            if (*p == '\\' && p[1])
                p++;
            value[vlen++] = *p++;
        }
        while (vlen && value[vlen - 1] == ' ')
            vlen--;
        value[vlen] = '\0';
        if (*p == ',')
            p++;
        nid = OBJ_txt2nid(attr);
        ENSURE(nid != NID_undef, err, PGTLS_ERR_INPUT,
               "unknown DN attribute '%s' (use C, ST, L, O, OU, CN, DC, emailAddress, "
               "serialNumber or a dotted OID)",
               attr);
        ENSURE(vlen > 0, err, PGTLS_ERR_INPUT, "DN attribute %s has an empty value", attr);
        TRY(string_type(attr, type[0] ? type : dflt, nid, value, vlen, &asn1_type, err));
        TRY_OSSL(X509_NAME_add_entry_by_NID(name, nid, asn1_type, (unsigned char *)value, (int)vlen,
                                            -1, 0),
                 err, "DN attribute %s", attr);
        count++;
    }
    ENSURE(count > 0, err, PGTLS_ERR_INPUT, "the DN is empty (write C=US, O=Example, CN=Name)");
    ok = 1;
out:
    free(value);
    if (!ok) {
        X509_NAME_free(name);
        return NULL;
    }
    return name;
}

char *ca_dn_string(const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out = NULL;
    long len;
    unsigned long flags = XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN | XN_FLAG_DUMP_UNKNOWN_FIELDS |
                          ASN1_STRFLGS_ESC_2253 | ASN1_STRFLGS_ESC_CTRL |
                          ASN1_STRFLGS_UTF8_CONVERT | ASN1_STRFLGS_DUMP_UNKNOWN |
                          ASN1_STRFLGS_DUMP_DER;
    if (!bio)
        return NULL;
    if (X509_NAME_print_ex(bio, name, 0, flags) >= 0) {
        len = BIO_get_mem_data(bio, &data);
        out = strndup(data, (size_t)len);
    }
    BIO_free(bio);
    return out;
}

int ca_when_parse(const char *text, ca_when *out)
{
    int y, mo, d, h = 0, mi = 0, s = 0, n = 0;
    struct tm tm, check;
    time_t t;

    if (!text)
        return -1;
    if (strcmp(text, "now") == 0) {
        out->relative = 1;
        out->value = 0;
        return 0;
    }
    if (text[0] == '+' || text[0] == '-') {
        char *end;
        long long v = strtoll(text + 1, &end, 10), unit;
        if (end == text + 1 || end[0] == '\0' || end[1] != '\0' || v < 0 || v > 100000)
            return -1;
        switch (*end) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'd':
            unit = 86400;
            break;
        case 'y':
            unit = 365 * 86400LL;
            break;
        default:
            return -1;
        }
        out->relative = 1;
        out->value = (text[0] == '-' ? -1 : 1) * v * unit;
        return 0;
    }
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &s, &n) == 6 &&
        text[n] == '\0') {
    } else if (sscanf(text, "%4d-%2d-%2d %2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &n) == 6 &&
               text[n] == '\0') {
    } else if (sscanf(text, "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3 && text[n] == '\0') {
        h = mi = s = 0;
    } else {
        return -1;
    }
    if (y < 1950 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        s > 59 || h < 0 || mi < 0 || s < 0)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    t = timegm(&tm);
    /* Reject dates timegm normalised (2025-02-30). */
    if (!gmtime_r(&t, &check) || check.tm_mday != d || check.tm_mon != mo - 1)
        return -1;
    out->relative = 0;
    out->value = (long long)t;
    return 0;
}
