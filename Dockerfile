# Build: the release binary, with the dependency layer cached apart from the sources.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# Stub every target the manifest names so the dependency layer builds alone and is cached.
RUN mkdir -p src bench && echo 'fn main() {}' > src/main.rs && echo '' > src/lib.rs \
    && echo 'fn main() {}' > bench/baseline.rs && echo 'fn main() {}' > bench/tool.rs \
    && cargo build --release --locked --no-default-features --bin openpartner \
    && rm -rf src bench
COPY config config
COPY migrations migrations
COPY src src
COPY bench bench
# Without the `simulators` feature: the Network and Stripe simulators stay out of the image.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --no-default-features --bin openpartner

# Run: Debian slim with CA certificates (TLS to the Network and SMTP), as a non-root user.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data openpartner \
    && mkdir -p /data && chown openpartner /data
COPY --from=build /src/target/release/openpartner /usr/local/bin/openpartner
USER openpartner
ENV OPENPARTNER_BIND=0.0.0.0:8080 \
    OPENPARTNER_DATA_DIR=/data \
    OPENPARTNER_LOG_FORMAT=json
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["openpartner"]
CMD ["serve"]
