/*
 * NAME
 *	s3_retention 3
 * SUMMARY
 *	the s3 store's bucket retention behind backends/store_retention.h
 * SYNOPSIS
 *	#include "backends/store_retention.h"
 *
 *	r = store_retention_read(st, &ret, &err);
 * DESCRIPTION
 *	Implements the public bucket-retention calls for the s3 store, so
 *	that `tabularium retention` (search/admin/cli_retention.c) needs neither
 *	the driver's header nor its structure: reads the bucket's Object Lock
 *	and lifecycle configuration (s3_store_bucket_config) and takes the
 *	XML apart into a struct store_retention; builds and writes the
 *	lifecycle configuration (s3_lifecycle_xml, s3_store_put_lifecycle).
 *
 *	Never deletes an object and never changes the Object Lock
 *	configuration.
 * DIAGNOSTICS
 *	The s3 store's results and messages, unchanged.
 */
#include <stdlib.h>
#include <string.h>

#include "backends/s3/s3.h"
#include "backends/store_retention.h"

int store_retention_supported(const struct store *st)
{
    return st != NULL && strcmp(st->name, "s3") == 0;
}

const char *store_retention_bucket(struct store *st)
{
    return s3_store_bucket(st);
}

const char *store_retention_prefix(struct store *st)
{
    return s3_store_prefix(st);
}

long long store_retention_days(const char *period)
{
    return s3_retention_days(period);
}

char *store_retention_lifecycle(struct store *st, long long days)
{
    return s3_lifecycle_xml(s3_store_prefix(st), days);
}

enum tab_result store_retention_write(struct store *st, const char *xml, const char **error_r)
{
    return s3_store_put_lifecycle(st, xml, error_r);
}

/* The number in <outer><tag>N</tag></outer> of xml; -1 when absent or empty. */
static long long s3_retention_number(const char *xml, const char *outer, const char *tag)
{
    char *block = s3_xml_element(xml, outer, NULL);
    char *v = block != NULL ? s3_xml_value(block, tag) : NULL;
    long long n = v != NULL && *v != '\0' ? strtoll(v, NULL, 10) : -1;

    free(v);
    free(block);
    return n;
}

/* The <Rule> elements of a lifecycle configuration, in order. */
static size_t s3_retention_rules(const char *xml, struct store_retention_rule **rules_r)
{
    struct store_retention_rule *rules = NULL;
    size_t n = 0;
    const char *p = xml, *next;
    char *rule;

    while (p != NULL && (rule = s3_xml_element(p, "Rule", &next)) != NULL) {
        struct store_retention_rule r;
        char *filter = s3_xml_element(rule, "Filter", NULL);
        r.id = s3_xml_value(rule, "ID");
        r.status = s3_xml_value(rule, "Status");
        /* <Filter><Prefix> (current) or a bare <Prefix> (old style) */
        r.prefix = s3_xml_value(filter != NULL ? filter : rule, "Prefix");
        r.days = s3_retention_number(rule, "Expiration", "Days");
        r.noncurrent = s3_retention_number(rule, "NoncurrentVersionExpiration", "NoncurrentDays");
        r.abort_days =
            s3_retention_number(rule, "AbortIncompleteMultipartUpload", "DaysAfterInitiation");
        rules = xrealloc(rules, (n + 1) * sizeof(*rules));
        rules[n++] = r;
        free(filter);
        free(rule);
        p = next;
    }
    *rules_r = rules;
    return n;
}

enum tab_result store_retention_read(struct store *st, struct store_retention *ret_r,
                                     const char **error_r)
{
    char *lifecycle = NULL, *lock = NULL;
    enum tab_result r;

    memset(ret_r, 0, sizeof(*ret_r));
    ret_r->default_days = ret_r->default_years = -1;
    r = s3_store_bucket_config(st, &lifecycle, &lock, error_r);
    if (r != TAB_OK)
        return r;
    if (lock != NULL) {
        char *rule;

        ret_r->lock_enabled = s3_xml_value(lock, "ObjectLockEnabled");
        rule = s3_xml_element(lock, "DefaultRetention", NULL);
        if (rule != NULL) {
            char *v;
            ret_r->default_mode = s3_xml_value(rule, "Mode");
            if ((v = s3_xml_value(rule, "Days")) != NULL)
                ret_r->default_days = strtoll(v, NULL, 10);
            free(v);
            if ((v = s3_xml_value(rule, "Years")) != NULL)
                ret_r->default_years = strtoll(v, NULL, 10);
            free(v);
        }
        free(rule);
    }
    if (lifecycle != NULL)
        ret_r->n_rules = s3_retention_rules(lifecycle, &ret_r->rules);
    free(lifecycle);
    free(lock);
    return TAB_OK;
}

void store_retention_free(struct store_retention *ret)
{
    for (size_t i = 0; i < ret->n_rules; i++) {
        free(ret->rules[i].id);
        free(ret->rules[i].status);
        free(ret->rules[i].prefix);
    }
    free(ret->rules);
    free(ret->lock_enabled);
    free(ret->default_mode);
    memset(ret, 0, sizeof(*ret));
}
