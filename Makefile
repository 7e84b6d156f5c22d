# Thin wrappers: npm scripts are the source of truth (see package.json).
.PHONY: help deps build build-core build-gateway build-k8s-manager build-dashboard test test-core \
	test-coverage lint fmt clean run migrate-up bench docker-build docker-up docker-down

help: ## List targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

deps: ## Install dependencies
	npm install

build: ## Build every workspace
	npm run build

build-core: ## Build services/core and what it needs
	npm run build -w services/core

build-gateway: ## Build services/gateway and what it needs
	npm run build -w services/gateway

build-k8s-manager: ## Build services/k8s-manager
	npm run build -w services/k8s-manager

build-dashboard: ## Build services/dashboard
	npm run build -w services/dashboard

test: deps ## Install and run every test (real PostgreSQL and Redis)
	npm test

test-core: ## Run services/core tests
	npm test -w services/core

test-coverage: ## Tests with coverage
	npm run test:coverage

lint: ## ESLint, Prettier, file names, import boundaries
	npm run lint

fmt: ## Format and auto-fix
	npm run fmt

bench: ## Run the benchmarks
	npm run bench

clean: ## Remove build output
	npm run clean

run: deps ## Install and start Aetherium (embedded mode)
	npm start

migrate-up: ## Apply database migrations
	@echo "migrations arrive with services/core storage (issue #3)"; exit 1

docker-build docker-up docker-down: ## Container images and compose (not yet)
	@echo "$@: no container images yet; run 'make run' for the embedded setup"; exit 1
