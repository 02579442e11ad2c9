# caregraph: `make run` serves, `make test` tests. Both install what is missing first.
SHELL := /bin/bash
GO ?= go

.PHONY: run test deps web build generate check bench fuzz clean

## run: install what is missing, build the playground, start the server (Ctrl-C stops it)
run: deps web
	$(GO) run ./server

## test: install what is missing, run every test against a throwaway PostGIS cluster
test: deps web
	./scripts/test.sh

## deps: install PostgreSQL, PostGIS and npm when missing (apt-get, as root)
deps:
	@./scripts/deps.sh

## web: build the offline playground assets from the npm registry into web/dist
web: web/dist/graphiql.min.js

web/dist/graphiql.min.js: web/package.json web/package-lock.json web/build.mjs
	npm ci --prefix web --no-audit --no-fund --loglevel=error
	node web/build.mjs

## build: the server binary, playground included
build: web
	$(GO) build -o bin/server ./server

## generate: regenerate GraphQL code from graph/schema
generate:
	$(GO) generate ./...

## check: formatting, vet, and generated code up to date
check:
	@test -z "$$(gofmt -l .)" || (gofmt -l . && echo "gofmt: files above need formatting" && exit 1)
	$(GO) vet ./...
	$(GO) generate ./... && git diff --exit-code -- graph

## bench: the Go benchmarks (needs CAREGRAPH_TEST_DATABASE_URL for the database ones)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin web/dist/*.js web/dist/*.css
