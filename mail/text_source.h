/*
 * NAME
 *	text_source 3h
 * SUMMARY
 *	the catalog's text source over the stored copies (see mail/text_source.c)
 */
#ifndef TAB_TEXT_SOURCE_H
#define TAB_TEXT_SOURCE_H

#include "backends/catalog.h"
#include "common/config.h"

/* NULL when the catalog takes no text source (it indexes at delivery). */
struct text_source;
struct text_source *text_source_attach(struct catalog *cat, const struct tab_config *cfg);
void text_source_free(struct text_source **ts);

#endif
