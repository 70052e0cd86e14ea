/*
 * NAME
 *	cli_output 3
 * SUMMARY
 *	text and JSON printers behind struct cli_output
 * DESCRIPTION
 *	Owns how CLI output is encoded: JSON escaping, the text layout and
 *	what a terminal is allowed to see. Everything printed comes from
 *	the network (addresses, subjects) through the catalog, so a string
 *	is never written unfiltered: JSON strings are always valid UTF-8 and
 *	text strings never carry control characters (no terminal escape
 *	sequences, no forged extra lines).
 *
 *	UTF-8 is checked strictly (no overlong forms, no surrogates, nothing
 *	above U+10FFFF); each maximal invalid subsequence becomes one U+FFFD,
 *	as the Unicode standard recommends.
 *
 *	Must never decide what is printed: that is the command's business.
 *	Also the one usage-error line every command prints (cli_usage_error,
 *	search/cli.h).
 * DIAGNOSTICS
 *	Misuse of the nesting (see cli_output.h) aborts with a message. Write
 *	errors stay in the stdio stream for the caller to check.
 */
#include "search/cli_output.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "backends/record.h"
#include "common/strlist.h"
#include "common/utf8.h"
#include "search/cli.h"

#define CLI_OUTPUT_FFFD "\xEF\xBF\xBD"

enum cli_output_kind { CLI_OUTPUT_MAP, CLI_OUTPUT_LIST };

struct cli_printer {
    struct cli_output o; /* first: handed out as struct cli_output */
    FILE *out;
    int json;
    int depth;
    int after_key; /* a key was printed and its value not yet */
    struct {
        enum cli_output_kind kind;
        unsigned items;
    } stack[CLI_OUTPUT_MAX_DEPTH];
};

static struct cli_printer *cli_printer_of(struct cli_output *o)
{
    return (struct cli_printer *)o;
}

static void cli_output_misuse(const char *what)
{
    fprintf(stderr, "tabularium: internal error: cli_output: %s\n", what);
    abort();
}

static void cli_output_json_escaped(FILE *out, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, n, bad;

    fputc('"', out);
    while (i < len) {
        unsigned char c = s[i];

        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc(c, out);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            fprintf(out, "\\u%04x", c);
            i++;
        } else if ((n = utf8_seq(s + i, len - i, &bad)) > 0) {
            fwrite(s + i, 1, n, out);
            i += n;
        } else {
            fputs(CLI_OUTPUT_FFFD, out);
            i += bad;
        }
    }
    fputc('"', out);
}

static void cli_output_text_sanitized(FILE *out, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, n, bad;

    while (i < len) {
        unsigned char c = s[i];

        if (c == '\t' || c == '\r' || c == '\n') {
            fputc(' ', out);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            fputc('?', out);
            i++;
        } else if ((n = utf8_seq(s + i, len - i, &bad)) > 0) {
            /* C1 controls (U+0080..U+009F) include CSI, a terminal escape. */
            if (n == 2 && c == 0xC2 && s[i + 1] <= 0x9F)
                fputc('?', out);
            else
                fwrite(s + i, 1, n, out);
            i += n;
        } else {
            fputs(CLI_OUTPUT_FFFD, out);
            i += bad;
        }
    }
}

/* Separator before a value (or a JSON key) at the current level. */
static void cli_output_before_value(struct cli_printer *p)
{
    if (p->depth == 0)
        return;
    if (p->stack[p->depth - 1].kind == CLI_OUTPUT_MAP) {
        if (p->json) {
            if (!p->after_key)
                cli_output_misuse("value in a map without a key");
            p->after_key = 0;
            return;
        }
        p->after_key = 0;
        if (p->stack[p->depth - 1].items++ > 0)
            fputs("  ", p->out);
        return;
    }
    if (p->stack[p->depth - 1].items++ > 0)
        fputs(p->json ? "," : ", ", p->out);
}

static void cli_output_push(struct cli_printer *p, enum cli_output_kind kind)
{
    cli_output_before_value(p);
    if (p->depth >= CLI_OUTPUT_MAX_DEPTH)
        cli_output_misuse("nested too deeply");
    p->stack[p->depth].kind = kind;
    p->stack[p->depth].items = 0;
    p->depth++;
    if (p->json)
        fputc(kind == CLI_OUTPUT_MAP ? '{' : '[', p->out);
}

static void cli_output_begin_map(struct cli_output *o)
{
    cli_output_push(cli_printer_of(o), CLI_OUTPUT_MAP);
}

static void cli_output_begin_list(struct cli_output *o)
{
    cli_output_push(cli_printer_of(o), CLI_OUTPUT_LIST);
}

static void cli_output_end(struct cli_output *o)
{
    struct cli_printer *p = cli_printer_of(o);

    if (p->depth == 0)
        cli_output_misuse("end() without begin");
    if (p->after_key)
        cli_output_misuse("key without a value");
    p->depth--;
    if (p->json)
        fputc(p->stack[p->depth].kind == CLI_OUTPUT_MAP ? '}' : ']', p->out);
}

static void cli_output_map_key(struct cli_output *o, const char *key)
{
    struct cli_printer *p = cli_printer_of(o);

    if (p->depth == 0 || p->stack[p->depth - 1].kind != CLI_OUTPUT_MAP)
        cli_output_misuse("key outside a map");
    if (p->after_key)
        cli_output_misuse("two keys in a row");
    if (p->json) {
        if (p->stack[p->depth - 1].items++ > 0)
            fputc(',', p->out);
        cli_output_json_escaped(p->out, key, strlen(key));
        fputc(':', p->out);
    }
    p->after_key = 1;
}

static void cli_output_null(struct cli_output *o)
{
    struct cli_printer *p = cli_printer_of(o);

    cli_output_before_value(p);
    fputs(p->json ? "null" : "-", p->out);
}

static void cli_output_string_len(struct cli_output *o, const char *s, size_t len)
{
    struct cli_printer *p = cli_printer_of(o);

    cli_output_before_value(p);
    if (p->json)
        cli_output_json_escaped(p->out, s, len);
    else
        cli_output_text_sanitized(p->out, s, len);
}

static void cli_output_string(struct cli_output *o, const char *s)
{
    if (s == NULL)
        cli_output_null(o);
    else
        cli_output_string_len(o, s, strlen(s));
}

static void cli_output_integer(struct cli_output *o, int64_t n)
{
    struct cli_printer *p = cli_printer_of(o);

    cli_output_before_value(p);
    fprintf(p->out, "%" PRId64, n);
}

static void cli_output_boolean(struct cli_output *o, int b)
{
    struct cli_printer *p = cli_printer_of(o);

    cli_output_before_value(p);
    fputs(b ? "true" : "false", p->out);
}

static void cli_output_separator(struct cli_output *o)
{
    struct cli_printer *p = cli_printer_of(o);

    if (p->depth != 0)
        cli_output_misuse("separator() inside a map or list");
    fputc('\n', p->out);
}

static struct cli_output *cli_output_new(FILE *out, int json)
{
    struct cli_printer *p = xcalloc(1, sizeof(*p));

    p->out = out;
    p->json = json;
    p->o.begin_map = cli_output_begin_map;
    p->o.begin_list = cli_output_begin_list;
    p->o.end = cli_output_end;
    p->o.map_key = cli_output_map_key;
    p->o.string = cli_output_string;
    p->o.string_len = cli_output_string_len;
    p->o.integer = cli_output_integer;
    p->o.boolean = cli_output_boolean;
    p->o.null = cli_output_null;
    p->o.separator = cli_output_separator;
    return &p->o;
}

struct cli_output *cli_output_json_new(FILE *out)
{
    return cli_output_new(out, 1);
}

struct cli_output *cli_output_text_new(FILE *out)
{
    return cli_output_new(out, 0);
}

void cli_output_free(struct cli_output **o)
{
    if (o == NULL || *o == NULL)
        return;
    free(cli_printer_of(*o));
    *o = NULL;
}

void cli_output_key_string(struct cli_output *o, const char *key, const char *s)
{
    o->map_key(o, key);
    o->string(o, s);
}

void cli_output_key_integer(struct cli_output *o, const char *key, int64_t n)
{
    o->map_key(o, key);
    o->integer(o, n);
}

void cli_output_envelope_to(struct cli_output *o, const struct archive_record *rec)
{
    o->map_key(o, "envelope_to");
    o->begin_list(o);
    for (size_t i = 0; i < rec->n_rcpts; i++)
        o->string(o, rec->rcpts[i].address);
    o->end(o);
}

int cli_usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "tabularium %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (tabularium %s --help)\n", cmd);
    return CLI_EXIT_USAGE;
}
