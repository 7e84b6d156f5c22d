# Thin wrappers: npm scripts are the source of truth (see package.json).
.PHONY: help deps build build-ui test test-core test-coverage lint typecheck fmt clean run \
	image migrate-up migrate-status bench \
	docker-build docker-up docker-down docker-status

help: ## List targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

deps: ## Install dependencies
	npm install

build: ## Build every workspace (tsc -b)
	npm run build

build-ui: build ## Build the dashboard's static export (services/dashboard/out)
	npm run build:ui

test: deps ## Install, build and run every test (real PostgreSQL, Redis and dockerd)
	npm test

test-core: ## Run the services/core tests
	npx vitest run --project @aetherium/core

test-coverage: ## Every test, with coverage
	npm run test:coverage

lint: ## ESLint, Prettier, file names, import boundaries, OpenAPI lint, knip
	npm run lint

typecheck: ## Type-check the whole tree, tests included
	npm run typecheck

fmt: ## Format and auto-fix
	npm run fmt

clean: ## Remove build output
	npm run clean

run: deps ## Install and start Aetherium (embedded mode) on http://127.0.0.1:8080
	npm start

image: build ## Build the sandbox base image (root, dockerd)
	npx aetherium image build

docker-build: build-ui ## Build the service images aetherium/<service>:<version> (root, dockerd)
	npx aetherium image build --service all

docker-up: build-ui ## Start a local cluster: 2 gateways behind a load balancer on :8090 (AETHERIUM_CLUSTER_PORT), 2 workers
	npx aetherium cluster up

docker-down: ## Stop the local cluster (its data stays; PURGE=1 removes volumes and keys too)
	npx aetherium cluster down $(if $(PURGE),--purge)

docker-status: ## List the local cluster's containers
	npx aetherium cluster status

migrate-up: build ## Apply database migrations (AETHERIUM_DATABASE_URL, else the embedded database)
	npx aetherium migrate up

migrate-status: build ## List applied and pending migrations
	npx aetherium migrate status

bench: ## Run the benchmarks
	npm run bench
