/*
 * NAME
 *	index_date 3
 * SUMMARY
 *	the Date: field for the catalog
 * SYNOPSIS
 *	#include "mail/index_fields_private.h"
 *
 *	if (index_date_parse(value, &t) == 0) ...
 * DESCRIPTION
 *	index_date_parse() turns an unfolded Date: value into seconds since
 *	the epoch (UTC), or refuses it: what is not clearly a date is never
 *	guessed at. The note before struct date_lex lists what is accepted.
 *
 *	Bound: one pass, comments counted (index_words.c), O(n).
 * DIAGNOSTICS
 *	-1 when the value is not a date.
 */
#include <ctype.h>
#include <string.h>

#include <gmime/gmime.h>

#include "mail/index_fields_private.h"

/*
 * Dates (RFC 5322 3.3 and the obsolete forms of 4.3), parsed here: GMime
 * gives midnight UTC for a zone glued to the time ("10:37:15+0200", as
 * real mail has it), a wrong date that date searches then miss. What is
 * not clearly a date gives NULL, never a guess. Accepted: an optional day
 * name (with or without its comma), day, month name, a 4-digit year or a
 * 2- or 3-digit one (RFC 5322 4.3: below 50 is 20xx, else 19xx; 3 digits
 * add 1900), hh:mm with optional :ss, a zone +hhmm / -hhmm (also +hh:mm),
 * glued to the time or not, UT, GMT, UTC, Z, the US zones, a military
 * letter (taken as -0000, i.e. UTC, as RFC 5322 says), or none (UTC);
 * comments and any white space between the parts; and the asctime()
 * order "Tue Dec  1 10:37:15 2026". After the zone, only comments and
 * one alphabetic zone name ("+0200 CEST") may follow.
 */
struct date_lex {
    const char *p;
};

/* Past blanks and comments (nesting counted). */
static void date_skip_cfws(struct date_lex *lx)
{
    size_t n;

    lx->p = index_words_skip_cfws(lx->p, NULL, &n);
}

/* 1..max digits; -1 when there are none or more. */
static int date_number(struct date_lex *lx, int max, int *digits_r)
{
    int v = 0, n = 0;

    while (isdigit((unsigned char)lx->p[n])) {
        if (n == max)
            return -1;
        v = v * 10 + (lx->p[n] - '0');
        n++;
    }
    if (n == 0)
        return -1;
    lx->p += n;
    if (digits_r != NULL)
        *digits_r = n;
    return v;
}

/* Letters at p (at most max, else 0). */
static size_t date_word(const char *p, size_t max)
{
    size_t n = 0;

    while (isalpha((unsigned char)p[n])) {
        if (n == max)
            return 0;
        n++;
    }
    return n;
}

/* A month name (its first three letters, or the whole name): 1..12, or 0. */
static int date_month(struct date_lex *lx)
{
    static const char *const months[] = {"january",   "february", "march",    "april",
                                         "may",       "june",     "july",     "august",
                                         "september", "october",  "november", "december"};
    size_t n = date_word(lx->p, 9);

    if (n < 3)
        return 0;
    for (int m = 0; m < 12; m++)
        if ((n == 3 || n == strlen(months[m])) && g_ascii_strncasecmp(lx->p, months[m], n) == 0) {
            lx->p += n;
            return m + 1;
        }
    return 0;
}

static int date_day_name(const char *p, size_t n)
{
    static const char *const days[] = {"monday", "tuesday",  "wednesday", "thursday",
                                       "friday", "saturday", "sunday"};

    for (int d = 0; d < 7; d++)
        if ((n == 3 || n == strlen(days[d])) && g_ascii_strncasecmp(p, days[d], n) == 0)
            return 1;
    return 0;
}

/* hh:mm[:ss]; 0 or -1. */
static int date_time(struct date_lex *lx, int *h, int *m, int *s)
{
    if ((*h = date_number(lx, 2, NULL)) < 0 || *lx->p != ':')
        return -1;
    lx->p++;
    if ((*m = date_number(lx, 2, NULL)) < 0)
        return -1;
    *s = 0;
    if (*lx->p == ':') {
        lx->p++;
        if ((*s = date_number(lx, 2, NULL)) < 0)
            return -1;
    }
    return *h <= 23 && *m <= 59 && *s <= 60 ? 0 : -1;
}

/* The zone at p, east of UTC in seconds; 0 when there is none (UTC);
 * -1 when it is there but not understood. */
static int date_zone(struct date_lex *lx, long *off_r)
{
    static const struct {
        const char *name;
        int hours;
    } zones[] = {{"UT", 0},   {"GMT", 0},  {"UTC", 0},  {"Z", 0},    {"EST", -5}, {"EDT", -4},
                 {"CST", -6}, {"CDT", -5}, {"MST", -7}, {"MDT", -6}, {"PST", -8}, {"PDT", -7}};
    size_t n;

    *off_r = 0;
    if (*lx->p == '+' || *lx->p == '-') {
        int sign = *lx->p == '-' ? -1 : 1, hh, mm, digits;
        lx->p++;

        if ((hh = date_number(lx, 4, &digits)) < 0)
            return -1;
        if (digits == 4) {
            mm = hh % 100;
            hh /= 100;
        } else if (digits == 2 && *lx->p == ':') {
            lx->p++;
            if ((mm = date_number(lx, 2, &digits)) < 0 || digits != 2)
                return -1;
        } else {
            return -1;
        }
        if (hh > 23 || mm > 59)
            return -1;
        *off_r = sign * (hh * 3600L + mm * 60L);
        return 0;
    }
    n = date_word(lx->p, 5);
    if (n == 0)
        return isalpha((unsigned char)*lx->p) ? -1 : 0;
    for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
        if (strlen(zones[i].name) == n && g_ascii_strncasecmp(lx->p, zones[i].name, n) == 0) {
            lx->p += n;
            *off_r = zones[i].hours * 3600L;
            return 0;
        }
    if (n == 1 && *lx->p != 'j' && *lx->p != 'J') { /* military: -0000 */
        lx->p++;
        return 0;
    }
    return -1;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant). */
static long date_days(int y, int m, int d)
{
    long era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int date_month_days(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[m - 1];
}

/* The date in value as seconds since the epoch; -1 when it is not one. */
int index_date_parse(const char *value, time_t *t_r)
{
    struct date_lex lx = {.p = value};
    int day, month, year, ydigits, h, m, s;
    long off = 0;
    size_t n;

    date_skip_cfws(&lx);
    if ((n = date_word(lx.p, 9)) > 0 && date_day_name(lx.p, n)) {
        lx.p += n;
        date_skip_cfws(&lx);
        if (*lx.p == ',')
            lx.p++;
        date_skip_cfws(&lx);
    }
    if (isdigit((unsigned char)*lx.p)) {
        /* day month year time [zone] */
        day = date_number(&lx, 2, NULL);
        date_skip_cfws(&lx);
        if (day < 0 || (month = date_month(&lx)) == 0)
            return -1;
        date_skip_cfws(&lx);
        if ((year = date_number(&lx, 4, &ydigits)) < 0)
            return -1;
        date_skip_cfws(&lx);
        if (date_time(&lx, &h, &m, &s) < 0)
            return -1;
    } else {
        /* asctime(): month day time year [zone] */
        if ((month = date_month(&lx)) == 0)
            return -1;
        date_skip_cfws(&lx);
        if ((day = date_number(&lx, 2, NULL)) < 0)
            return -1;
        date_skip_cfws(&lx);
        if (date_time(&lx, &h, &m, &s) < 0)
            return -1;
        date_skip_cfws(&lx);
        if ((year = date_number(&lx, 4, &ydigits)) < 0)
            return -1;
    }
    /* the zone may be glued to the time: no blank needed */
    date_skip_cfws(&lx);
    if (date_zone(&lx, &off) < 0)
        return -1;
    date_skip_cfws(&lx);
    if ((n = date_word(lx.p, 5)) > 0) { /* "+0200 CEST": a name for the zone given */
        lx.p += n;
        date_skip_cfws(&lx);
    }
    if (*lx.p != '\0')
        return -1;

    if (ydigits == 2)
        year += year < 50 ? 2000 : 1900;
    else if (ydigits == 3)
        year += 1900;
    if (year < 1000 || day < 1 || day > date_month_days(year, month))
        return -1;
    if (s == 60)
        s = 59; /* a leap second stays in its minute */
    *t_r = (time_t)(date_days(year, month, day) * 86400L + h * 3600L + m * 60L + s - off);
    return 0;
}
