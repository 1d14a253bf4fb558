/*
 * debug.h -- crash points for tests.
 *
 * With TALLY_SYNC_CRASH=NAME:N in the environment, the Nth time the
 * program passes the point NAME it kills itself with SIGKILL, so that a
 * test can stop it at an exact instant: between a target commit and its
 * confirmation to the source, say.  Without the variable a point costs one
 * branch.
 */
#ifndef TALLY_SYNC_DEBUG_H
#define TALLY_SYNC_DEBUG_H

void		sync_debug_point(const char *name);

#endif
