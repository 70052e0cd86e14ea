/*
 * NAME
 *	mac_expand 3h
 * SUMMARY
 *	"$name" and "${name}" in a parameter value
 * DESCRIPTION
 *	mac_expand() is the one expander of parameter references, for
 *	tabularium.conf and for Postfix's main.cf as "tabularium doctor"
 *	reads it. It replaces every "$name" and "${name}" (name: letters,
 *	digits, "_") with what the caller's lookup gives; with
 *	MAC_EXPAND_PARENS "$(name)" too, with MAC_EXPAND_DOLLAR "$$" is a
 *	"$" (Postfix's forms). Anything else after a "$" ("${name?x}", a
 *	"${" without "}", a lone "$") is an error: only Postfix evaluates
 *	those.
 *
 *	The lookup returns the value to put in (a heap string it has
 *	expanded itself, usually by calling mac_expand() at depth + 1);
 *	NULL with *error_r set (its own text, not freed) to fail, or NULL without it for a name it
 *	does not know. depth is checked against max_depth before anything
 *	else, so that "$a" -> "$b" -> "$a" ends.
 * DIAGNOSTICS
 *	NULL with *error_r, kept by this module (or the lookup) until its
 *	next failure: "parameter expansion too deep (a loop?)
 *	in \"...\"", "bad parameter reference in \"...\"", "unknown
 *	parameter \"$name\" in \"...\"", or the lookup's own error.
 */
#ifndef TAB_MAC_EXPAND_H
#define TAB_MAC_EXPAND_H

#define MAC_EXPAND_PARENS 1 /* "$(name)" as well */
#define MAC_EXPAND_DOLLAR 2 /* "$$" is "$" */

struct mac_expand {
    int flags;
    int max_depth;
    char *(*lookup)(void *ctx, const char *name, int depth, const char **error_r);
    void *ctx;
};

char *mac_expand(const struct mac_expand *mx, const char *raw, int depth, const char **error_r);

#endif
