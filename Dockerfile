# redis-proxy on Debian bookworm; every dependency from Debian packages.
# The base image is Debian's debian:bookworm-slim; a host that cannot pull
# it builds the same from its Debian mirror: tools/docker-base-image.sh.
#
# Stage "build": the build and test dependencies (OpenSSL 3 for TLS, with
# the openssl command for the tests' certificates; python3-redis for the
# client library test, groff-base, man-db, systemd and procps for the man
# page and unit checks, redis-sentinel for the Sentinel suites) and the source, built with
# -Werror as `make test` does; docker-compose.yml's tests service runs
# `make test` in it. The last stage is a slim runtime image of the binary.
FROM debian:bookworm-slim AS build
ARG DEBIAN_FRONTEND=noninteractive
# The slim image leaves out man pages and groff's fonts; the man page test
# needs them.
RUN sed -i -e '\|/usr/share/man/|d' -e '\|/usr/share/groff/|d' \
        /etc/dpkg/dpkg.cfg.d/docker 2>/dev/null || true
RUN apt-get update && apt-get install -y --no-install-recommends \
        build-essential libhiredis-dev libinih-dev libcriterion-dev \
        libssl-dev openssl redis-server redis-tools redis-sentinel \
        python3-redis groff-base man-db systemd procps curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make WERROR=1

FROM debian:bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends \
        libhiredis0.14 libinih1 libssl3 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/redis-proxy /usr/local/bin/redis-proxy
COPY proxy.ini /etc/redis-proxy/proxy.ini
EXPOSE 8080 6380 8081
# It listens on every address of the container, so clients need a password
# (protected mode refuses to start otherwise): the file of a Docker secret,
# never a command-line argument. Without the file the proxy says so and
# exits 2. docker-compose.yml runs it without one, reachable only from the
# compose network and the host's loopback.
ENTRYPOINT ["redis-proxy", "-c", "/etc/redis-proxy/proxy.ini", \
            "-s", "server.bind=0.0.0.0", \
            "-s", "server.password_file=/run/secrets/redis-proxy-password", \
            "-s", "redis.host=redis"]
