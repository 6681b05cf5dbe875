# syntax=docker/dockerfile:1
# Build a static keyport binary, then ship it alone on a distroless base as a
# non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
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
