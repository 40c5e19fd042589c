/*
 * hosts: which names a request's Host may carry on the HTTP data port and
 * the admin port when no password protects them, against DNS rebinding:
 * a web page whose own name is made to resolve to 127.0.0.1 would
 * otherwise reach the proxy as "same origin", read its answers and send
 * it writes. Its requests carry the page's name in Host, which is not one
 * of the proxy's: the loopback names (localhost, 127.0.0.1, [::1]), the
 * [server] bind address, and the names of [http] allowed_hosts (one
 * starting with '.' also matches the names under it). Names compare
 * without case and without a trailing dot; a port is not part of a name.
 * The same list decides which Origin may read the data port's answers
 * (CORS), password or not.
 *
 * Thread-safe: reads the settings snapshot only.
 */
#ifndef RP_HOSTS_H
#define RP_HOSTS_H

#include <stddef.h>

struct proxy;

/* The status of a request refused for its Host: 421 Misdirected Request
 * ("not the server for that name"). */
#define HOSTS_REFUSED 421

/* 1 when the host name name[0..len) (no port; an IPv6 address in
 * brackets) is one of the proxy's own (see the top of this file). */
int hosts_name_allowed(const struct proxy *px, const char *name, size_t len);

/* 1 when a request whose Host value is h[0..len) may be answered without
 * a password: h is NULL (no Host: no browser sent it), or its name (the
 * port dropped) passes hosts_name_allowed. */
int hosts_allowed(const struct proxy *px, const char *h, size_t len);

/* The name part of a Host value h[0..len): *len cut before a ":port"
 * (not inside an IPv6 address's brackets). Returns h. */
const char *hosts_name_of(const char *h, size_t *len);

#endif
