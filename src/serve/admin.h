/*
 * admin: the admin listener's routes, served by the same worker pool and
 * HTTP loop as the data port (httpd.c) but on its own port, so none of its
 * paths can shadow a key:
 *   GET /metrics     Prometheus text exposition (version 0.0.4)
 *   GET /healthz     200 while the process serves
 *   GET /readyz      200 when Redis answers PING and, with tracking on, the
 *                    invalidation stream is up; else 503 with the reason
 *   GET /stats.json  the same figures as /metrics, as JSON, for the dashboard
 *   GET /            the dashboard: one self-contained HTML page
 * Every figure is read from the services' own counters at request time,
 * each under its own short lock or with relaxed atomic loads, so a scrape
 * never stalls request processing. Responses are built in a heap buffer
 * (the admin port is not a hot path).
 */
#ifndef RP_ADMIN_H
#define RP_ADMIN_H

#include "net/conn.h"
#include "proto/http.h"
#include "serve/proxy.h"

/* Serves one parsed admin request on c. Returns 0, or -1 to close. Called
 * by httpd_process() for CONN_ADMIN conns. */
int admin_serve(struct proxy *px, struct conn *c,
                const struct http_request *req);

/* The dashboard page (generated from src/dashboard.html at build time). */
extern const char admin_dashboard_html[];
extern const unsigned long admin_dashboard_html_len;

#endif
