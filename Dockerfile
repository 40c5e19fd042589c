# redis-proxy on Debian bookworm; every dependency from Debian packages.
FROM debian:bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        build-essential libhiredis-dev libinih-dev libcriterion-dev \
        redis-server redis-tools \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make clean && make

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        libhiredis0.14 libinih1 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/redis-proxy /usr/local/bin/redis-proxy
COPY proxy.ini /etc/redis-proxy/proxy.ini
EXPOSE 8080 6380 8081
ENTRYPOINT ["redis-proxy", "-c", "/etc/redis-proxy/proxy.ini", \
            "-s", "server.bind=0.0.0.0", "-s", "redis.host=redis"]
