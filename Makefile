# redis-proxy: plain Makefile. Everything lands under build/ (git-ignored).
#   make                      build/redis-proxy
#   make test                 deps, -Werror build, unit + end-to-end tests
#   make test-asan            the same tests under ASan+UBSan
#   make test-tsan            end-to-end tests against a TSan proxy
#   make run                  deps, build, start with ./proxy.ini (and a
#                             throwaway redis); or the compose stack
#   make run-cluster          the same in front of a throwaway local Redis
#                             Cluster (CLUSTER_PORT=7101: ports 7101..7106)
#   make run-sentinel         ... of a throwaway master, two replicas and three
#                             Sentinels (SENTINEL_PORT=7301: 7301..7306);
#                             ARGS="-s redis.read_from=prefer_replica"
#   make test-clients         node-redis and ioredis through the proxy
#                             (and node-redis over TLS)
#   make bench                benchmark harness (tools/bench.sh; QUICK=1 for a
#                             short smoke run into build/bench)
#   make bench-syscalls       system calls per request (tools/bench/syscalls.sh)
#   make bench-callgrind      instructions per hit (tools/bench/callgrind.sh)
#   make check                format and layering checks (as in .ci/run)
#   make install              binary, man page, example config, systemd unit,
#                             and /etc/redis-proxy/proxy.ini when none is
#                             there (PREFIX=/usr/local, DESTDIR); make uninstall
#
# src/ is layered (base, proto, net, cache, upstream, serve; see
# docs/ARCHITECTURE.md); tests/unit/ mirrors it. The flags the code needs
# are in REQUIRED_*, apart from CFLAGS, so `make CFLAGS=-O0` keeps them.

CC       ?= cc
CFLAGS   ?= -O2 -g
SANITIZE ?=
comma    := ,
BUILD    ?= build$(if $(SANITIZE),/$(subst $(comma),-,$(SANITIZE)))

WARN     := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wformat=2 -Wvla
REQUIRED_CPPFLAGS := -D_GNU_SOURCE -Isrc -MMD -MP
REQUIRED_CFLAGS   := -std=c11 $(WARN) $(if $(WERROR),-Werror) -pthread \
                     $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer)
REQUIRED_LDFLAGS  := -pthread $(if $(SANITIZE),-fsanitize=$(SANITIZE))
ALL_CPPFLAGS = $(REQUIRED_CPPFLAGS) $(CPPFLAGS)
ALL_CFLAGS   = $(REQUIRED_CFLAGS) $(CFLAGS)
ALL_LDFLAGS  = $(REQUIRED_LDFLAGS) $(LDFLAGS)
LDLIBS   := -lhiredis -linih -lssl -lcrypto

LAYERS   := base proto net cache upstream serve
SRCS     := $(foreach l,$(LAYERS),$(wildcard src/$(l)/*.c))
OBJS     := $(SRCS:src/%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/serve/dashboard_html.o
UNIT_SRCS := $(foreach l,$(LAYERS),$(wildcard tests/unit/$(l)/test_*.c))
UNIT     := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
E2E_SRCS := $(wildcard tests/e2e/*.c)
E2E      := $(BUILD)/tests/e2e

.PHONY: all test test-unit test-e2e test-asan test-tsan run run-cluster \
        run-sentinel bench deps \
        bench-syscalls bench-callgrind \
        format check check-format check-layers docker-test clean
all: $(BUILD)/redis-proxy

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

# The dashboard page is compiled into the binary.
$(BUILD)/gen/dashboard_html.c: src/serve/dashboard.html tools/embed.sh
	@mkdir -p $(@D)
	bash tools/embed.sh $< admin_dashboard_html > $@

$(BUILD)/obj/serve/dashboard_html.o: $(BUILD)/gen/dashboard_html.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libproxy.a: $(OBJS)
	$(AR) rcs $@ $^

$(BUILD)/redis-proxy: $(BUILD)/obj/main.o $(BUILD)/libproxy.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

# A unit test includes its layer's helpers (tests/unit/LAYER/*_helpers.h)
# and those every layer shares (tests/unit/unit_helpers.h).
$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libproxy.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) -Itests/unit/$(firstword $(subst /, ,$*)) \
	    -Itests/unit $(ALL_CFLAGS) -o $@ $< $(BUILD)/libproxy.a \
	    $(ALL_LDFLAGS) $(LDLIBS) -lcriterion

$(E2E): $(E2E_SRCS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -o $@ $(E2E_SRCS) $(ALL_LDFLAGS) \
	    -lhiredis -lssl -lcrypto -lcriterion

deps:
	@bash tools/deps.sh

# Where the tests run (tools/test.sh; its first line says which): in
# containers (docker-test) where a Docker engine answers and the build
# dependencies are missing, so nothing changes on the host; natively
# (test-native: deps, then the tests) otherwise. TEST_IN=native or
# TEST_IN=docker chooses instead.
TEST_IN ?= auto
.PHONY: test-native
test:
	@MAKE='$(MAKE)' bash tools/test.sh $(TEST_IN)

# Criterion prints its synthesis line per binary; tools/run-tests.sh adds the
# total and fails on any failure.
test-native: deps
	$(MAKE) --no-print-directory WERROR=1 test-unit test-e2e

test-unit: $(UNIT)
	@bash tools/run-tests.sh unit $(UNIT)

test-e2e: $(BUILD)/redis-proxy $(E2E) $(BUILD)/tools/delay_relay
	@PROXY_BIN=$(abspath $(BUILD)/redis-proxy) \
	DELAY_RELAY_BIN=$(abspath $(BUILD)/tools/delay_relay) \
	    bash tools/run-tests.sh e2e $(E2E)

test-asan: deps
	LSAN_OPTIONS=suppressions=$(abspath tools/lsan.supp) \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $(MAKE) --no-print-directory SANITIZE=address,undefined WERROR=1 \
	    test-unit test-e2e

# Criterion itself cannot run under TSan (its boxfort arena clashes with
# TSan's shadow memory), so the TSan run instruments the proxy and drives it
# with the plain end-to-end test binary.
TSAN_BUILD := build/thread
test-tsan: deps
	$(MAKE) --no-print-directory SANITIZE=thread WERROR=1 \
	    $(TSAN_BUILD)/redis-proxy
	$(MAKE) --no-print-directory WERROR=1 build/tests/e2e \
	    build/tools/delay_relay
	TSAN_OPTIONS=halt_on_error=1:exitcode=66:second_deadlock_stack=1 \
	PROXY_BIN=$(abspath $(TSAN_BUILD)/redis-proxy) \
	DELAY_RELAY_BIN=$(abspath build/tools/delay_relay) \
	    bash tools/run-tests.sh e2e-tsan build/tests/e2e

# libFuzzer harnesses (tests/fuzz/fuzz_NAME.c, each linked with the modules
# it drives, FUZZ_SRC_NAME), built with clang under ASan+UBSan into
# build/fuzz/ and run for FUZZ_SECONDS each on a scratch copy of
# tests/fuzz/corpus/; fails if any of them finds a crash, a leak or a
# broken check.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_DIR     := build/fuzz
FUZZ_TARGETS := http resp reply config
FUZZ_SRC_http   := src/proto/http.c src/proto/http_text.c
FUZZ_SRC_resp   := src/proto/resp.c src/proto/resp_out.c
FUZZ_SRC_reply  := src/proto/resp_reply.c src/proto/resp_out.c
FUZZ_SRC_config := src/base/config.c src/base/config_check.c src/base/config_table.c \
                   src/base/config_users.c src/base/pwhash.c
FUZZ_HDR_http   := src/proto/http.h
FUZZ_HDR_resp   := src/proto/resp.h src/proto/resp_out.h
FUZZ_HDR_reply  := src/proto/resp_reply.h src/proto/resp_out.h src/proto/resp.h
FUZZ_HDR_config := src/base/config.h src/base/config_row.h src/base/pwhash.h
FUZZ_LIBS_config := -linih -lcrypto
FUZZ_CFLAGS  := -g -O1 -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
                -std=c11 $(WARN) -D_GNU_SOURCE -Isrc

.PHONY: fuzz fuzz-build
fuzz-build:
	@bash tools/deps.sh clang libclang-rt-14-dev
	$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)

.SECONDEXPANSION:
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $$(FUZZ_SRC_$$*) $$(FUZZ_HDR_$$*)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRC_$*) $(FUZZ_LIBS_$*)

fuzz: fuzz-build
	@bash tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_DIR) $(FUZZ_TARGETS)

# The dashboard in Debian's headless Chromium, driven by playwright-core
# (pinned in tests/browser/package-lock.json; it downloads no browser).
# Debian's nodejs and npm are installed only when node or npm is missing.
.PHONY: test-browser
test-browser:
	@bash tools/deps.sh chromium \
	    $$(command -v node >/dev/null && command -v npm >/dev/null || echo nodejs npm)
	$(MAKE) --no-print-directory $(BUILD)/redis-proxy
	npm ci --prefix tests/browser --no-audit --no-fund
	PROXY_BIN=$(abspath $(BUILD)/redis-proxy) node tests/browser/dashboard.test.mjs

# Client libraries from npm (node-redis 5 and ioredis 5, pinned in
# tests/clients/package-lock.json), each with its defaults, through the
# proxy in front of a real redis-server (tests/clients/clients.test.mjs
# starts both on free loopback ports and stops them), and node-redis over
# TLS through tls_port (tests/clients/tls.test.mjs). Debian's nodejs and
# npm are installed only when node or npm is missing.
.PHONY: test-clients
test-clients:
	@bash tools/deps.sh \
	    $$(command -v node >/dev/null && command -v npm >/dev/null || echo nodejs npm)
	$(MAKE) --no-print-directory $(BUILD)/redis-proxy
	npm ci --prefix tests/clients --no-audit --no-fund
	PROXY_BIN=$(abspath $(BUILD)/redis-proxy) node tests/clients/clients.test.mjs
	PROXY_BIN=$(abspath $(BUILD)/redis-proxy) node tests/clients/tls.test.mjs

# Where the proxy runs (tools/run.sh; its first line says which), by the
# rule of `make test` for what running needs (tools/deps.sh --run): the
# compose stack's redis and proxy where a Docker engine answers and some of
# it is missing; natively (run-native: deps-run, the build, then
# tools/run-proxy.sh with ./proxy.ini and a throwaway redis-server when no
# Redis answers) otherwise. RUN_IN=native or RUN_IN=docker chooses instead.
RUN_IN ?= auto
.PHONY: run-native run-built deps-run
run:
	@MAKE='$(MAKE)' bash tools/run.sh $(RUN_IN)

run-native: deps-run
	@$(MAKE) --no-print-directory run-built

run-built: $(BUILD)/redis-proxy
	@bash tools/run-proxy.sh $(BUILD)/redis-proxy

deps-run:
	@bash tools/deps.sh --run

# Three masters and three replicas on 127.0.0.1 (CLUSTER_PORT..+5, data in
# a mktemp dir), the proxy in front with ./proxy.ini; Ctrl-C stops all.
run-cluster: $(BUILD)/redis-proxy
	@bash tools/run-cluster.sh $(BUILD)/redis-proxy

# A master, two replicas and three Sentinels on 127.0.0.1 (SENTINEL_PORT..
# +5, data in a mktemp dir), the proxy in front with ./proxy.ini following
# the sentinels (ARGS go to the proxy); Ctrl-C stops all. redis-sentinel
# is installed as make test would.
run-sentinel: $(BUILD)/redis-proxy
	@bash tools/deps.sh --run redis-sentinel
	@bash tools/run-sentinel.sh $(BUILD)/redis-proxy $(ARGS)

# make bench: tools/bench.sh (QUICK=1 for a short smoke run into
# build/bench); it builds the proxy and the limit server below itself.
# bench-syscalls and bench-callgrind re-run one section on their own.
bench:
	@bash tools/bench.sh

bench-syscalls:
	@bash tools/bench/syscalls.sh

bench-callgrind:
	@bash tools/bench/callgrind.sh

# A TCP relay holding bytes a fixed time each way (a replica replicating
# from far away in the Sentinel tests; "far Redis" rows of the benchmark).
$(BUILD)/tools/delay_relay: tools/delay_relay.c
	@mkdir -p $(@D)
	$(CC) -D_GNU_SOURCE -std=c11 $(WARN) $(if $(WERROR),-Werror) -O2 -g -o $@ $<

# The benchmark's limit server: one thread, epoll, fixed replies.
$(BUILD)/tools/limit: tools/bench/limit.c
	@mkdir -p $(@D)
	$(CC) -D_GNU_SOURCE -std=c11 $(WARN) -O2 -g -o $@ $<

# The tests service of docker-compose.yml (`make test` in the Dockerfile's
# build stage), then `down`; fails with the tests' exit status. Needs the
# base image: pulled, or built by tools/docker-base-image.sh.
COMPOSE := bash tools/compose.sh
docker-test:
	@bash tools/docker-base-image.sh --check
	@$(COMPOSE) up --build --abort-on-container-exit --exit-code-from tests \
	    tests; status=$$?; $(COMPOSE) down; exit $$status

# Every C source and header, for clang-format.
FORMAT_FILES = $(shell git ls-files 'src/*.[ch]' 'tests/*.[ch]' 2>/dev/null)

format:
	clang-format -i $(FORMAT_FILES)

check-format:
	@clang-format --dry-run -Werror $(FORMAT_FILES) && echo "format: $(words $(FORMAT_FILES)) files clean"

check-layers:
	@bash tools/layers.sh src

check: check-format check-layers

# make install: four files, and the configuration the unit reads when there
# is none (docs/operations.md, "Install"). The unit gets BINDIR and
# SYSCONFDIR substituted; the configuration, $(SYSCONFDIR)/redis-proxy/
# proxy.ini, is written from the shipped proxy.ini only when no file is
# there (an existing one is the administrator's: never overwritten, and
# install says it left it); uninstall removes it only when it is still the
# shipped file, and says when it leaves one that was changed. The unit goes
# under PREFIX, as everything else does: systemd searches
# /usr/local/lib/systemd/system and /usr/lib/systemd/system; for the
# distribution's own directory, pass (to install and uninstall alike)
# SYSTEMDUNITDIR="$(pkg-config --variable=systemdsystemunitdir systemd)".
# uninstall removes the four files, the unchanged configuration, and
# $(DOCDIR) and $(SYSCONFDIR)/redis-proxy if those are then empty, never the
# shared directories install may have created (bin, man8, ...).
PREFIX         ?= /usr/local
BINDIR         ?= $(PREFIX)/bin
MANDIR         ?= $(PREFIX)/share/man
DOCDIR         ?= $(PREFIX)/share/doc/redis-proxy
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR     ?= /etc
INSTALL        ?= install
CONFDIR        := $(SYSCONFDIR)/redis-proxy
INSTALLED      := $(BINDIR)/redis-proxy $(MANDIR)/man8/redis-proxy.8 \
                  $(DOCDIR)/proxy.ini.example \
                  $(SYSTEMDUNITDIR)/redis-proxy.service

.PHONY: install uninstall
# The unit is written straight to its destination (no file under build/
# that two installs with different paths could share).
install: $(BUILD)/redis-proxy
	$(INSTALL) -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(MANDIR)/man8" \
	    "$(DESTDIR)$(DOCDIR)" "$(DESTDIR)$(SYSTEMDUNITDIR)"
	$(INSTALL) -m 0755 $(BUILD)/redis-proxy "$(DESTDIR)$(BINDIR)/redis-proxy"
	$(INSTALL) -m 0644 docs/redis-proxy.8 "$(DESTDIR)$(MANDIR)/man8/redis-proxy.8"
	$(INSTALL) -m 0644 proxy.ini "$(DESTDIR)$(DOCDIR)/proxy.ini.example"
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    tools/redis-proxy.service.in \
	    > "$(DESTDIR)$(SYSTEMDUNITDIR)/redis-proxy.service"
	chmod 0644 "$(DESTDIR)$(SYSTEMDUNITDIR)/redis-proxy.service"
	@conf="$(DESTDIR)$(CONFDIR)/proxy.ini"; \
	if [ -e "$$conf" ] || [ -L "$$conf" ]; then \
	    echo "install: $$conf exists: left as it is (the shipped one is $(DESTDIR)$(DOCDIR)/proxy.ini.example)"; \
	else \
	    $(INSTALL) -d "$(DESTDIR)$(CONFDIR)" && \
	    $(INSTALL) -m 0644 proxy.ini "$$conf" && \
	    echo "install: wrote $$conf (the shipped proxy.ini)"; \
	fi

# The configuration goes first, compared with the example installed next to
# it (the shipped file of the version installed), or ./proxy.ini without one.
uninstall:
	@conf="$(DESTDIR)$(CONFDIR)/proxy.ini"; \
	shipped="$(DESTDIR)$(DOCDIR)/proxy.ini.example"; \
	[ -f "$$shipped" ] || shipped=proxy.ini; \
	if [ -f "$$conf" ] && [ ! -L "$$conf" ] && cmp -s "$$shipped" "$$conf"; then \
	    rm -f "$$conf" && echo "uninstall: removed $$conf (unchanged)"; \
	elif [ -e "$$conf" ] || [ -L "$$conf" ]; then \
	    echo "uninstall: $$conf differs from the shipped proxy.ini: left in place"; \
	fi
	rm -f $(foreach f,$(INSTALLED),"$(DESTDIR)$(f)")
	@rmdir "$(DESTDIR)$(DOCDIR)" 2>/dev/null || true
	@rmdir "$(DESTDIR)$(CONFDIR)" 2>/dev/null || true

clean:
	rm -rf build

-include $(OBJS:.o=.d) $(BUILD)/obj/main.d $(UNIT:=.d) $(E2E).d
