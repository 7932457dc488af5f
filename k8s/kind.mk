# kind path: a local cluster with the whole platform (included by the root Makefile).
# Needs Docker, kind, kubectl, helm (v3.8+ or v4) and curl; run by .github/workflows/chart.yml.
KIND ?= kind
KUBECTL ?= kubectl
HELM ?= helm
DOCKER ?= docker
KIND_CLUSTER ?= taskplane
KIND_NAMESPACE ?= taskplane
KIND_RELEASE ?= taskplane
IMAGE_TAG ?= dev
KIND_CHART := charts/taskplane
KIND_VALUES := k8s/values-dev.yaml
# image name -> Dockerfile (build context: the repository root)
KIND_IMAGES := task-service=apps/task-service/Dockerfile auth-service=apps/auth-service/Dockerfile \
	user-service=apps/user-service/Dockerfile worker=apps/worker/Dockerfile operator=operator/Dockerfile

export KIND_NAMESPACE KIND_RELEASE

.PHONY: kind-up kind-images kind-test kind-down

kind-up: ## kind: create the cluster, build and load the images, install the chart (needs Docker)
	@$(KIND) get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)' || \
		$(KIND) create cluster --name $(KIND_CLUSTER) --config k8s/kind/cluster.yaml --wait 180s
	$(MAKE) kind-images
	$(HELM) repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update
	$(HELM) repo add jaegertracing https://jaegertracing.github.io/helm-charts --force-update
	$(HELM) repo add open-telemetry https://open-telemetry.github.io/opentelemetry-helm-charts --force-update
	$(HELM) dependency build $(KIND_CHART)
	$(KUBECTL) --context kind-$(KIND_CLUSTER) apply -f k8s/namespace.yaml
	$(HELM) upgrade --install $(KIND_RELEASE) $(KIND_CHART) --kube-context kind-$(KIND_CLUSTER) \
		-n $(KIND_NAMESPACE) -f $(KIND_VALUES) --wait --timeout 15m
	CHART=$(KIND_CHART) VALUES=$(KIND_VALUES) bash k8s/kind/bootstrap-tokens.sh

kind-images: ## kind: docker build every image and load it into the cluster
	@set -e; for entry in $(KIND_IMAGES); do \
		name=$${entry%%=*}; dockerfile=$${entry#*=}; \
		echo "== taskplane/$$name:$(IMAGE_TAG) ($$dockerfile)"; \
		$(DOCKER) build -f $$dockerfile -t taskplane/$$name:$(IMAGE_TAG) . ; \
		$(KIND) load docker-image taskplane/$$name:$(IMAGE_TAG) --name $(KIND_CLUSTER); \
	done

kind-test: ## kind: helm test (readyz + a task through the smoke queue), then the sample TaskQueues end to end
	$(HELM) test $(KIND_RELEASE) --kube-context kind-$(KIND_CLUSTER) -n $(KIND_NAMESPACE) --logs --timeout 10m
	bash k8s/kind/e2e.sh

kind-down: ## kind: delete the cluster
	$(KIND) delete cluster --name $(KIND_CLUSTER)
