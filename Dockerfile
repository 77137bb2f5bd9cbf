# syntax=docker/dockerfile:1
# Parley as a container: a static binary on an empty base, run as a
# non-root user, with the data on a volume. See docs/deploy.md.
#
#   docker build -t parley .
#   docker run -p 8080:8080 -v parley-data:/data \
#     -v /srv/parley/master.key:/run/secrets/parley_master_key:ro \
#     parley serve --addr 0.0.0.0:8080 --flows /flows --data /data \
#       --web-chat off --key-file /run/secrets/parley_master_key
#
# The master key never goes into the image: mount it as a file readable by
# uid 65532 only (chown 65532, chmod 0400; serve refuses a key file that
# group or others can read) or set PARLEY_MASTER_KEY. Without either, serve
# creates a development key inside /data and warns on every start.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO off: Badger, pgx and everything else Parley uses are pure Go, so the
# binary needs no C library and runs on an empty base image.
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/parley ./cmd/parley \
 && mkdir -p /out/data && cp -r flows /out/flows

FROM scratch
# TLS roots for the WhatsApp Graph API and integrations; a passwd entry so
# the process has a name; nothing else.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build --chmod=0444 <<'PASSWD' /etc/passwd
parley:x:65532:65532:parley:/data:/sbin/nologin
PASSWD
COPY --from=build /out/parley /parley
COPY --from=build --chown=65532:65532 /out/flows /flows
COPY --from=build --chown=65532:65532 --chmod=0700 /out/data /data
USER 65532:65532
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["/parley"]
# Listens on every interface inside the container (put it behind a TLS
# proxy); the local web chat is off there, as for any non-loopback address.
CMD ["serve", "--addr", "0.0.0.0:8080", "--flows", "/flows", "--data", "/data", "--web-chat", "off"]
