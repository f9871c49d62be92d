# gorocket — the Makefile is the developer API. `make help` lists every target.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

ROOT      := $(abspath .)
LOCALBIN  ?= $(ROOT)/bin
GO        ?= go
K8S_VERSION ?= v1.34.4
ENVTEST_K8S := $(patsubst v%,%,$(K8S_VERSION))
CONTROLLER_TOOLS_VERSION ?= v0.19.0
HELM_VERSION ?= v3.19.0
FUZZTIME  ?= 10s
# Per-package test timeout; the whole suite is budgeted in README.md.
TEST_TIMEOUT ?= 20m

# binary name -> cmd directory
BINARIES := gorocket-namesrv:nameserver gorocket-broker:broker gorocketctl:gorocketctl gorocket-operator:operator

.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-22s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Build

.PHONY: build
build: ## Build every binary into bin/ (gorocket-namesrv, gorocket-broker, gorocketctl, gorocket-operator).
	@mkdir -p $(LOCALBIN)
	@for pair in $(BINARIES); do \
		name=$${pair%%:*}; dir=$${pair#*:}; \
		if [ -d cmd/$$dir ]; then \
			echo "go build -o bin/$$name ./cmd/$$dir"; \
			CGO_ENABLED=0 $(GO) build -trimpath -o $(LOCALBIN)/$$name ./cmd/$$dir; \
		fi; \
	done

.PHONY: image-tarballs
image-tarballs: ## Build the operator, broker and nameserver images as tarballs in dist/images (no container engine needed).
	bash hack/build-images.sh -o dist/images

.PHONY: run
run: build ## The main job: start a local cluster (nameserver + brokers) and run a produce/consume demo.
	$(LOCALBIN)/gorocketctl local up --demo --dir $(ROOT)/.local-cluster

##@ Code generation

CHART_DIR := charts/gorocket-operator

.PHONY: generate
generate: controller-gen ## Generate the API's DeepCopy methods (api/v1alpha1/zz_generated.deepcopy.go).
	$(LOCALBIN)/controller-gen object paths="./api/..."

.PHONY: manifests
manifests: controller-gen ## Generate the CRDs (config/crd/bases) and the operator ClusterRole (config/rbac/role.yaml), and copy them into the Helm chart.
	$(LOCALBIN)/controller-gen rbac:roleName=manager-role crd paths="./api/..." paths="./controllers/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	cp config/crd/bases/*.yaml $(CHART_DIR)/crds/
	cp config/rbac/role.yaml $(CHART_DIR)/files/role.yaml

.PHONY: verify
verify: generate manifests ## Fail if generated code, CRDs, RBAC or the chart's copies are stale or uncommitted (regenerates, then git status).
	@out=$$(git status --porcelain -- api config/crd config/rbac $(CHART_DIR)/crds $(CHART_DIR)/files); \
		if [ -n "$$out" ]; then echo "generated files differ from the commit (run make generate manifests, commit):"; echo "$$out"; \
		git --no-pager diff -- api config/crd config/rbac $(CHART_DIR)/crds $(CHART_DIR)/files; exit 1; fi

##@ Checks

.PHONY: fmt
fmt: ## Format the Go sources.
	gofmt -w $$(git ls-files '*.go' | grep -v '^hack/k8s-tools/')

.PHONY: vet
vet: ## go vet every package.
	$(GO) vet ./...

.PHONY: lint
lint: ## gofmt check, go vet, and the dependency-direction check (hack/check-deps.sh).
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needs to run on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	bash hack/check-deps.sh

.PHONY: helm-lint
helm-lint: helm ## helm lint and helm template the operator chart (cluster-wide and namespaced).
	$(LOCALBIN)/helm lint --strict $(CHART_DIR)
	$(LOCALBIN)/helm lint --strict $(CHART_DIR) --set 'watchNamespaces={a,b}'
	$(LOCALBIN)/helm template gorocket $(CHART_DIR) --include-crds --kube-version $(K8S_VERSION) >/dev/null

##@ Tests

.PHONY: test
test: lint envtest helm ## Everything CI runs: lint, then every unit, integration, compatibility and envtest test with -race.
	KUBEBUILDER_ASSETS="$$(bash hack/setup-envtest-offline.sh)" HELM="$(LOCALBIN)/helm" \
		$(GO) test -race -timeout $(TEST_TIMEOUT) -count=1 ./...

.PHONY: test-short
test-short: ## Fast inner loop: unit tests only (-short skips process-level and envtest suites).
	$(GO) test -short -count=1 ./...

.PHONY: test-storage-crash
test-storage-crash: ## Storage crash and recovery suites only (SIGKILL child, torn tails, every-fsync crash images, lock refusal).
	$(GO) test -race -count=1 -run 'TestHelperProcess|TestCrash|TestRecovery|TestLock|TestIndexRecovery' ./storage/...

.PHONY: test-replication
test-replication: ## Multi-process master/slave tests only (SIGKILL the master, lag, restarts, shared-store refusal).
	$(GO) test -race -count=1 ./test/replication/

.PHONY: test-compat
test-compat: ## The real rocketmq-client-go v2.1.2 suites only (single master, 2m-2s-sync, 2m-2s-async; nameserver).
	$(GO) test -race -count=1 ./test/compat/...

.PHONY: fuzz
fuzz: ## Short runs of every fuzz target (FUZZTIME=60s for the documented long run).
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

.PHONY: bench
bench: ## Run the Go benchmarks (see docs/benchmarks.md for the recorded figures).
	$(GO) test -run '^$$' -bench . -benchmem ./...

.PHONY: bench-send
bench-send: ## In-process send-path benchmarks (nameserver + broker + client in one process) and remoting micro-benchmarks.
	$(GO) test -run '^$$' -bench 'BenchmarkSend' -benchtime 5s ./test/perf/
	$(GO) test -run '^$$' -bench 'ConnInvoke|DecodeJSONHeader|EncodeFrame' -benchmem ./remoting/...

.PHONY: bench-nats
bench-nats: build ## Side-by-side publish benchmark, gorocket vs NATS JetStream (test/natsbench/run.sh; W= S= D= to tune).
	bash test/natsbench/run.sh $(if $(W),-w $(W)) $(if $(S),-s $(S)) $(if $(D),-d $(D))

.PHONY: bench-replication
bench-replication: build ## Replication cost, gorocket (no slave / ASYNC_MASTER / SYNC_MASTER) vs NATS JetStream (R1 / R2); N= rounds, W= D=.
	bash test/natsbench/run.sh -r -w $(or $(W),64) -d $(or $(D),8s) -n $(or $(N),3)

##@ Tools (installed into bin/ from the Go module proxy; nothing else is downloaded)

.PHONY: envtest
envtest: ## Build kube-apiserver, etcd and kubectl for envtest into bin/k8s (cached; ~4 min cold).
	@bash hack/setup-envtest-offline.sh >/dev/null

.PHONY: helm
helm: $(LOCALBIN)/helm ## Install helm into bin/ (go install from the module proxy).
$(LOCALBIN)/helm:
	GOBIN=$(LOCALBIN) $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

.PHONY: controller-gen
controller-gen: $(LOCALBIN)/controller-gen ## Install controller-gen into bin/.
$(LOCALBIN)/controller-gen:
	GOBIN=$(LOCALBIN) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)

.PHONY: clean
clean: ## Remove build outputs (keeps the cached envtest binaries under bin/k8s).
	rm -f $(addprefix $(LOCALBIN)/,$(foreach p,$(BINARIES),$(firstword $(subst :, ,$(p)))))
	rm -rf .local-cluster
