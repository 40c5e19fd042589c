/*
 * admin: the admin listener's routes, on the request loop of http_conn but
 * on a port of its own, so none of its paths can shadow a key:
 *   GET /metrics     Prometheus text exposition (version 0.0.4)
 *   GET /healthz     200 while the process serves
 *   GET /readyz      200 when Redis answers PING and, with tracking on, the
 *                    invalidation stream is up; else 503 with the reason
 *   GET /stats.json  the same figures as /metrics, as JSON, for the dashboard
 *   GET /            the dashboard: one self-contained HTML page
 *   /key/<key>       the dashboard's key lookups (and, with writes on,
 *                    PUT and DELETE), exactly as the data port answers
 *                    /<key>, on the admin port's credentials
 * The figures come from stats.h: one snapshot, one list, two renderings.
 */
#ifndef RP_ADMIN_H
#define RP_ADMIN_H

#include "net/conn.h"

/* The admin port's conn_ops; a conn's kind->ctx is the struct proxy. */
extern const struct conn_ops admin_ops;

/* The dashboard page (generated from src/serve/dashboard.html at build
 * time). */
extern const char admin_dashboard_html[];
extern const unsigned long admin_dashboard_html_len;

#endif
