# Build a static keyport binary, then ship it alone on a distroless base as a
# non-root user. No "# syntax=" line: BuildKit's built-in frontend and the
# classic builder both read this file, so a build needs no registry beyond
# the two base images.
#
# The base images are named by tag. To pin them, append the digest you have
# checked (docker buildx imagetools inspect IMAGE, or docker image inspect
# --format '{{index .RepoDigests 0}}' IMAGE after a pull), e.g.
#   FROM golang:1.26-bookworm@sha256:<digest> AS build
# and update it on purpose, as with any dependency.
FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first: this layer stays cached until go.mod or go.sum changes.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
      -o /out/keyport ./cmd/keyport

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/keyport /usr/local/bin/keyport
USER nonroot:nonroot
EXPOSE 8080
ENV KEYPORT_ADDR=0.0.0.0:8080
ENTRYPOINT ["/usr/local/bin/keyport"]
CMD ["serve"]
