# Multi-stage build: a static watcher binary on a distroless base, run as a
# non-root user. The embedded NATS store goes to /home/nonroot/data (mount a
# volume there to keep it across containers).
#
#   docker build -t dcs-watcher:latest --build-arg VERSION=$(git describe --always) \
#     --build-arg REVISION=$(git rev-parse HEAD) --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#   docker run -d --env-file watcher.env -v watcher-data:/home/nonroot/data -p 9090:9090 dcs-watcher:latest
#
# dcs-watcher:latest is the name the Kubernetes and compose manifests use.
# .dockerignore keeps .git, local binaries and any ./data (with its
# generated NATS passwords) out of the build context.
#
# The image's config is deploy/container/watcher.yaml: /metrics, /healthz
# and /readyz on 0.0.0.0:9090; the embedded NATS on the loopback only. To
# reach NATS from outside, mount a config with nats.listen: 0.0.0.0:4222 and
# publish 4222 (-p 4222:4222); it admits only the credentials it keeps in
# the data directory.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/watcher ./cmd/watcher

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="dcs-watcher" \
      org.opencontainers.image.description="Watches Huawei Cloud DCS data-migration tasks; publishes changes to NATS JetStream and Slack" \
      org.opencontainers.image.source="https://github.com/dcs-watcher/watcher" \
      org.opencontainers.image.url="https://github.com/dcs-watcher/watcher" \
      org.opencontainers.image.documentation="https://github.com/dcs-watcher/watcher/blob/main/docs/operations.md" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /out/watcher /usr/local/bin/watcher
COPY deploy/container/watcher.yaml /etc/watcher/watcher.yaml
USER nonroot:nonroot
WORKDIR /home/nonroot
# http.listen of the image's config. 4222 (NATS) is not exposed: its
# listener is loopback unless the config says otherwise.
EXPOSE 9090
# No shell in the image: the binary asks its own /healthz (http.listen of
# the config; exit 0 healthy, 1 not).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/usr/local/bin/watcher", "health", "-c", "/etc/watcher/watcher.yaml"]
ENTRYPOINT ["/usr/local/bin/watcher"]
CMD ["run", "-c", "/etc/watcher/watcher.yaml"]
