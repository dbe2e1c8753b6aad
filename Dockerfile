# Multi-stage build: a static watcher binary on a distroless base, run as a
# non-root user. The embedded NATS store goes to ./data under the user's home
# (mount a volume there to keep it across containers).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/watcher ./cmd/watcher

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/watcher /usr/local/bin/watcher
COPY configs/watcher.yaml /etc/watcher/watcher.yaml
USER nonroot:nonroot
WORKDIR /home/nonroot
ENTRYPOINT ["/usr/local/bin/watcher"]
CMD ["run", "-c", "/etc/watcher/watcher.yaml"]
