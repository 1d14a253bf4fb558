/*
 * strbuf.h -- growable strings: libpq's PQExpBuffer, which libpq exports
 * but whose header expects PostgreSQL's c.h to have defined a macro first.
 */
#ifndef TALLY_COMMON_STRBUF_H
#define TALLY_COMMON_STRBUF_H

#ifndef pg_attribute_printf
#define pg_attribute_printf(f, a) __attribute__((format(printf, f, a)))
#endif
#include <internal/pqexpbuffer.h>

#endif
