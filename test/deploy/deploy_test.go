// Package deploy_test checks the operator's packaging: the Helm chart (helm lint and helm
// template), that the chart's CRDs and RBAC rules are the generated ones, the kustomize
// overlays, and the image tarballs of hack/build-images.sh.
package deploy_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// tool finds a binary from an environment variable or a default path. In CI (CI=true) a
// missing tool fails the test; locally it skips with instructions.
func tool(t *testing.T, env, fallback, install string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s=%s: %v", env, p, err)
		}
		return p
	}
	if _, err := os.Stat(fallback); err == nil {
		return fallback
	}
	msg := env + " is unset and " + fallback + " does not exist; run `" + install + "`"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func helm(t *testing.T) string {
	return tool(t, "HELM", filepath.Join(repoRoot(t), "bin", "helm"), "make helm")
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = repoRoot(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

type object struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   map[string]any `json:"metadata"`
	Spec       map[string]any `json:"spec"`
	Rules      []any          `json:"rules"`
	Subjects   []any          `json:"subjects"`
}

func (o object) name() string      { s, _ := o.Metadata["name"].(string); return s }
func (o object) namespace() string { s, _ := o.Metadata["namespace"].(string); return s }

func parseDocs(t *testing.T, manifest string) []object {
	t.Helper()
	var out []object
	for _, doc := range strings.Split(manifest, "\n---") {
		var o object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("parsing rendered YAML: %v\n%s", err, doc)
		}
		if o.Kind != "" {
			out = append(out, o)
		}
	}
	return out
}

func find(objs []object, kind, name string) (object, bool) {
	for _, o := range objs {
		if o.Kind == kind && (name == "" || o.name() == name) {
			return o, true
		}
	}
	return object{}, false
}

func kinds(objs []object) []string {
	var k []string
	for _, o := range objs {
		k = append(k, o.Kind+"/"+o.name())
	}
	return k
}

const chart = "charts/gorocket-operator"

// kubeVersion is passed to `helm template`: a helm built with `go install` (make helm) assumes
// Kubernetes v1.20 without a cluster, below the chart's kubeVersion constraint (>= 1.30).
const kubeVersion = "v1.34.0"

func TestHelmLint(t *testing.T) {
	h := helm(t)
	out := run(t, h, "lint", "--strict", chart)
	if !strings.Contains(out, "0 chart(s) failed") {
		t.Fatalf("helm lint:\n%s", out)
	}
	run(t, h, "lint", "--strict", chart, "--set", "watchNamespaces={mq-a,mq-b}", "--set", "replicaCount=2")
}

func TestHelmTemplateClusterWide(t *testing.T) {
	h := helm(t)
	objs := parseDocs(t, run(t, h, "template", "rocket", chart, "--kube-version", kubeVersion, "--namespace", "gorocket-system", "--include-crds"))

	for _, crd := range []string{"nameservers.gorocket.io", "brokergroups.gorocket.io"} {
		if _, ok := find(objs, "CustomResourceDefinition", crd); !ok {
			t.Errorf("CRD %s missing; got %v", crd, kinds(objs))
		}
	}
	role, ok := find(objs, "ClusterRole", "rocket-gorocket-operator")
	if !ok {
		t.Fatalf("operator ClusterRole missing; got %v", kinds(objs))
	}
	generated := generatedRules(t)
	if !reflect.DeepEqual(role.Rules, generated) {
		t.Errorf("ClusterRole rules differ from config/rbac/role.yaml:\n got %v\nwant %v", role.Rules, generated)
	}
	if _, ok := find(objs, "ClusterRoleBinding", "rocket-gorocket-operator"); !ok {
		t.Errorf("ClusterRoleBinding missing")
	}
	le, ok := find(objs, "Role", "rocket-gorocket-operator-leader-election")
	if !ok || le.namespace() != "gorocket-system" {
		t.Errorf("leader-election Role missing or in the wrong namespace: %+v", le.Metadata)
	}
	if _, ok := find(objs, "ServiceAccount", "rocket-gorocket-operator"); !ok {
		t.Errorf("ServiceAccount missing")
	}
	for _, agg := range []string{"rocket-gorocket-operator-edit", "rocket-gorocket-operator-view"} {
		if _, ok := find(objs, "ClusterRole", agg); !ok {
			t.Errorf("aggregated ClusterRole %s missing", agg)
		}
	}

	dep, ok := find(objs, "Deployment", "rocket-gorocket-operator")
	if !ok {
		t.Fatalf("Deployment missing; got %v", kinds(objs))
	}
	args := containerArgs(t, dep)
	for _, want := range []string{
		"--leader-elect=true", "--leader-election-namespace=gorocket-system", "--metrics-bind-address=:8080",
		"--namesrv-image=gorocket/gorocket-namesrv:0.1.0", "--broker-image=gorocket/gorocket-broker:0.1.0",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("operator args %v lack %s", args, want)
		}
	}
	for _, a := range args {
		if strings.HasPrefix(a, "--watch-namespaces") {
			t.Errorf("cluster-wide install must not restrict namespaces: %s", a)
		}
	}
	if _, ok := find(objs, "Service", "rocket-gorocket-operator-metrics"); !ok {
		t.Errorf("metrics Service missing")
	}
	pod := dep.Spec["template"].(map[string]any)["spec"].(map[string]any)
	if sc := pod["securityContext"].(map[string]any); sc["runAsNonRoot"] != true {
		t.Errorf("pod securityContext %v is not non-root", sc)
	}
}

func TestHelmTemplateNamespaced(t *testing.T) {
	h := helm(t)
	objs := parseDocs(t, run(t, h, "template", "rocket", chart, "--kube-version", kubeVersion, "--namespace", "ops",
		"--set", "watchNamespaces={mq-a,mq-b}", "--set", "metrics.enabled=false", "--set", "image.tag=1.2.3"))
	if _, ok := find(objs, "ClusterRole", "rocket-gorocket-operator"); ok {
		t.Errorf("namespaced install must not create the operator ClusterRole")
	}
	if _, ok := find(objs, "ClusterRoleBinding", ""); ok {
		t.Errorf("namespaced install must not create a ClusterRoleBinding")
	}
	generated := generatedRules(t)
	var roleNamespaces, bindingNamespaces []string
	for _, o := range objs {
		switch {
		case o.Kind == "Role" && o.name() == "rocket-gorocket-operator":
			roleNamespaces = append(roleNamespaces, o.namespace())
			if !reflect.DeepEqual(o.Rules, generated) {
				t.Errorf("Role rules in %s differ from config/rbac/role.yaml", o.namespace())
			}
		case o.Kind == "RoleBinding" && o.name() == "rocket-gorocket-operator":
			bindingNamespaces = append(bindingNamespaces, o.namespace())
			subject := o.Subjects[0].(map[string]any)
			if subject["namespace"] != "ops" {
				t.Errorf("RoleBinding in %s binds %v, want the ServiceAccount in ops", o.namespace(), subject)
			}
		}
	}
	want := []string{"mq-a", "mq-b"}
	if !reflect.DeepEqual(roleNamespaces, want) || !reflect.DeepEqual(bindingNamespaces, want) {
		t.Errorf("Roles in %v and RoleBindings in %v, want both in %v", roleNamespaces, bindingNamespaces, want)
	}
	dep, ok := find(objs, "Deployment", "rocket-gorocket-operator")
	if !ok {
		t.Fatal("Deployment missing")
	}
	args := containerArgs(t, dep)
	for _, want := range []string{"--watch-namespaces=mq-a,mq-b", "--metrics-bind-address=0"} {
		if !slices.Contains(args, want) {
			t.Errorf("operator args %v lack %s", args, want)
		}
	}
	image := dep.Spec["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["image"]
	if image != "gorocket/gorocket-operator:1.2.3" {
		t.Errorf("image = %v", image)
	}
	if _, ok := find(objs, "Service", "rocket-gorocket-operator-metrics"); ok {
		t.Errorf("metrics disabled but the metrics Service is rendered")
	}
}

func TestHelmRefusesUnsafeReplicas(t *testing.T) {
	h := helm(t)
	cmd := exec.Command(h, "template", "rocket", chart, "--kube-version", kubeVersion, "--set", "replicaCount=2", "--set", "leaderElection.enabled=false")
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "needs leaderElection.enabled=true") {
		t.Fatalf("want a refusal, got err=%v:\n%s", err, out)
	}
}

func containerArgs(t *testing.T, dep object) []string {
	t.Helper()
	c := dep.Spec["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	var out []string
	for _, a := range c["args"].([]any) {
		out = append(out, a.(string))
	}
	return out
}

func generatedRules(t *testing.T) []any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role object
	if err := yaml.Unmarshal(b, &role); err != nil {
		t.Fatal(err)
	}
	if len(role.Rules) == 0 {
		t.Fatal("config/rbac/role.yaml has no rules")
	}
	return role.Rules
}

// The chart ships copies of generated files; `make manifests` refreshes them.
func TestChartCopiesAreGenerated(t *testing.T) {
	root := repoRoot(t)
	pairs := map[string]string{
		"config/rbac/role.yaml": chart + "/files/role.yaml",
	}
	bases, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(bases) != 2 {
		t.Fatalf("config/crd/bases: %v %v", bases, err)
	}
	for _, b := range bases {
		pairs["config/crd/bases/"+filepath.Base(b)] = chart + "/crds/" + filepath.Base(b)
	}
	chartCRDs, _ := filepath.Glob(filepath.Join(root, chart, "crds", "*.yaml"))
	if len(chartCRDs) != len(bases) {
		t.Errorf("chart has %d CRD files, config/crd/bases %d", len(chartCRDs), len(bases))
	}
	for src, dst := range pairs {
		a, err := os.ReadFile(filepath.Join(root, src))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(root, dst))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from %s: run `make manifests`", dst, src)
		}
	}
}

func TestKustomizeBuilds(t *testing.T) {
	kubectl := ""
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		kubectl = filepath.Join(dir, "kubectl")
	}
	if kubectl == "" {
		kubectl = tool(t, "KUBECTL", filepath.Join(repoRoot(t), "bin", "k8s", "1.34.4-linux-amd64", "kubectl"), "make envtest")
	}
	objs := parseDocs(t, run(t, kubectl, "kustomize", "config/default"))
	for _, want := range []string{"Namespace/gorocket-system", "CustomResourceDefinition/brokergroups.gorocket.io",
		"CustomResourceDefinition/nameservers.gorocket.io", "ClusterRole/gorocket-manager-role",
		"ClusterRoleBinding/gorocket-manager-rolebinding", "Deployment/gorocket-operator", "ServiceAccount/gorocket-operator"} {
		if !slices.Contains(kinds(objs), want) {
			t.Errorf("config/default lacks %s; got %v", want, kinds(objs))
		}
	}
	samples := parseDocs(t, run(t, kubectl, "kustomize", "config/samples"))
	var bgs int
	for _, o := range samples {
		if o.Kind == "BrokerGroup" {
			bgs++
		}
	}
	if bgs != 7 {
		t.Errorf("config/samples has %d BrokerGroups, want 7 (1 + 2 + 2 + 2)", bgs)
	}
}

// TestImageTarball packs a stand-in binary with hack/build-images.sh and checks the result
// is a consistent docker-archive and OCI layout: every digest matches its blob, the config
// points at the layer, and the layer holds the binary and a non-root user.
func TestImageTarball(t *testing.T) {
	root := repoRoot(t)
	bin := t.TempDir()
	payload := []byte("#!/bin/false\nstand-in binary\n")
	if err := os.WriteFile(filepath.Join(bin, "gorocket-broker"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command("bash", filepath.Join(root, "hack", "build-images.sh"), "-o", out, "broker")
	cmd.Env = append(os.Environ(), "BIN_DIR="+bin, "VERSION=9.9.9", "REPO=example.test/mq")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build-images.sh: %v\n%s", err, b)
	}
	path := filepath.Join(out, "gorocket-broker-9.9.9-linux-amd64.tar")
	files := untar(t, path)

	sum, err := os.ReadFile(path + ".sha256")
	if err != nil {
		t.Fatal(err)
	}
	whole, _ := os.ReadFile(path)
	if got := strings.Fields(string(sum))[0]; got != digest(whole) {
		t.Errorf(".sha256 says %s, file is %s", got, digest(whole))
	}
	for name, data := range files {
		if d, ok := strings.CutPrefix(name, "blobs/sha256/"); ok && d != "" && d != digest(data) {
			t.Errorf("blob %s has digest %s", d, digest(data))
		}
	}

	var dockerManifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	mustJSON(t, files["manifest.json"], &dockerManifest)
	if len(dockerManifest) != 1 || !slices.Equal(dockerManifest[0].RepoTags, []string{"example.test/mq/gorocket-broker:9.9.9"}) {
		t.Fatalf("manifest.json = %+v", dockerManifest)
	}
	var config struct {
		Architecture, OS string
		Config           struct {
			User       string
			Entrypoint []string
		}
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	mustJSON(t, files[dockerManifest[0].Config], &config)
	if config.Config.User != "65532:65532" || !slices.Equal(config.Config.Entrypoint, []string{"/gorocket-broker"}) || config.OS != "linux" {
		t.Errorf("image config = %+v", config)
	}
	layerName := dockerManifest[0].Layers[0]
	if len(config.RootFS.DiffIDs) != 1 || config.RootFS.DiffIDs[0] != "sha256:"+strings.TrimPrefix(layerName, "blobs/sha256/") {
		t.Errorf("diff_ids %v do not name layer %s", config.RootFS.DiffIDs, layerName)
	}

	var index struct {
		Manifests []struct {
			Digest      string
			Annotations map[string]string
		}
	}
	mustJSON(t, files["index.json"], &index)
	if len(index.Manifests) != 1 || index.Manifests[0].Annotations["io.containerd.image.name"] != "docker.io/example.test/mq/gorocket-broker:9.9.9" {
		t.Fatalf("index.json = %+v", index)
	}
	var oci struct {
		Config struct{ Digest string }
		Layers []struct{ Digest, MediaType string }
	}
	mustJSON(t, files["blobs/sha256/"+strings.TrimPrefix(index.Manifests[0].Digest, "sha256:")], &oci)
	if "blobs/sha256/"+strings.TrimPrefix(oci.Config.Digest, "sha256:") != dockerManifest[0].Config ||
		len(oci.Layers) != 1 || "blobs/sha256/"+strings.TrimPrefix(oci.Layers[0].Digest, "sha256:") != layerName {
		t.Errorf("OCI manifest %+v disagrees with manifest.json %+v", oci, dockerManifest[0])
	}
	if _, ok := files["oci-layout"]; !ok {
		t.Error("oci-layout missing")
	}

	layer := untarBytes(t, files[layerName])
	if !bytes.Equal(layer["./gorocket-broker"].data, payload) || layer["./gorocket-broker"].mode != 0o755 {
		t.Errorf("layer binary: mode %o, %q", layer["./gorocket-broker"].mode, layer["./gorocket-broker"].data)
	}
	if !strings.Contains(string(layer["./etc/passwd"].data), "nonroot:x:65532:65532") {
		t.Errorf("/etc/passwd = %q", layer["./etc/passwd"].data)
	}
	if layer["./tmp/"].mode&0o1777 != 0o1777 {
		t.Errorf("/tmp mode %o", layer["./tmp/"].mode)
	}
}

type entry struct {
	data []byte
	mode int64
}

func untar(t *testing.T, path string) map[string][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for name, e := range untarBytes(t, b) {
		out[name] = e.data
	}
	return out
}

func untarBytes(t *testing.T, b []byte) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	r := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s owned by %d:%d", h.Name, h.Uid, h.Gid)
		}
		out[h.Name] = entry{data: data, mode: h.Mode}
	}
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
}
