package controllers_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gorocket/gorocket/api/v1alpha1"
	"github.com/gorocket/gorocket/controllers"
	"github.com/gorocket/gorocket/internal/operator/manager"
)

// The suite runs the operator's real manager (manager.New, as cmd/operator does) against a
// kube-apiserver and etcd started by envtest. envtest has no kubelet, scheduler or
// controller-manager: the tests play the StatefulSet controller themselves (creating pods from
// the StatefulSet template and setting their readiness) and there is no garbage collector.

const (
	testNameServerImage = "example.test/gorocket-namesrv:test"
	testBrokerImage     = "example.test/gorocket-broker:test"
)

var (
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client
	clientset *kubernetes.Clientset
	admin     = newFakeAdmin()
	repoRoot  string
	cancelMgr context.CancelFunc
	mgrDone   sync.WaitGroup
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controllers (envtest) Suite")
}

// kubebuilderAssets returns KUBEBUILDER_ASSETS, or builds/locates the envtest binaries with
// hack/setup-envtest-offline.sh so that `go test ./controllers/...` works on its own.
func kubebuilderAssets() string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	script := filepath.Join(repoRoot, "hack", "setup-envtest-offline.sh")
	cmd := exec.Command("bash", script)
	cmd.Stderr = GinkgoWriter
	out, err := cmd.Output()
	Expect(err).NotTo(HaveOccurred(), "KUBEBUILDER_ASSETS is unset and %s failed; run `make envtest`", script)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	dir := strings.TrimSpace(lines[len(lines)-1])
	Expect(filepath.Join(dir, "kube-apiserver")).To(BeAnExistingFile(), "envtest assets not found in %q", dir)
	return dir
}

var _ = BeforeSuite(func() {
	logf.SetLogger(GinkgoLogr)
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	SetDefaultConsistentlyDuration(1500 * time.Millisecond)
	SetDefaultConsistentlyPollingInterval(100 * time.Millisecond)

	_, file, _, ok := runtime.Caller(0)
	Expect(ok).To(BeTrue())
	repoRoot = filepath.Dir(filepath.Dir(file))

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(repoRoot, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: kubebuilderAssets(),
	}
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())

	k8sClient, err = client.New(cfg, client.Options{Scheme: manager.NewScheme()})
	Expect(err).NotTo(HaveOccurred())
	clientset, err = kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())

	opts := manager.DefaultOptions()
	opts.MetricsBindAddress = "0"
	opts.HealthProbeBindAddress = "0"
	opts.NameServerImage = testNameServerImage
	opts.BrokerImage = testBrokerImage
	opts.AdminClientFactory = admin.factory
	opts.RegistrationRecheck = 300 * time.Millisecond
	opts.SkipControllerNameValidation = true
	opts.GracefulShutdownTimeout = 5 * time.Second
	mgr, err := manager.New(cfg, opts)
	Expect(err).NotTo(HaveOccurred())

	var ctx context.Context
	ctx, cancelMgr = context.WithCancel(ctrl.SetupSignalHandler())
	mgrDone.Add(1)
	go func() {
		defer GinkgoRecover()
		defer mgrDone.Done()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	if cancelMgr != nil {
		cancelMgr()
		mgrDone.Wait()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// fakeAdmin answers ClusterInfo like nameservers would. By default every broker (ids 0..15) of
// every BrokerGroup in the API server counts as registered; a test can take manual control of
// one brokerName and register its ids one by one.
type fakeAdmin struct {
	mu     sync.Mutex
	manual map[string]map[int64]bool // brokerName -> registered ids
}

func newFakeAdmin() *fakeAdmin {
	return &fakeAdmin{manual: map[string]map[int64]bool{}}
}

func (f *fakeAdmin) factory() (controllers.AdminClient, error) { return f, nil }

func (f *fakeAdmin) ClusterInfo(ctx context.Context, addrs []string) (*controllers.ClusterInfo, error) {
	for _, a := range addrs {
		if strings.HasPrefix(a, "unreachable") {
			return nil, fmt.Errorf("dial tcp %s: connect: connection refused", a)
		}
	}
	var groups v1alpha1.BrokerGroupList
	if err := k8sClient.List(ctx, &groups); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	info := &controllers.ClusterInfo{BrokerAddrs: map[string]map[int64]string{}, Clusters: map[string][]string{}}
	for _, g := range groups.Items {
		name := g.EffectiveBrokerName()
		info.Clusters[g.Spec.ClusterName] = append(info.Clusters[g.Spec.ClusterName], name)
		addrs := map[int64]string{}
		manual, isManual := f.manual[name]
		for id := int64(0); id < 16; id++ {
			if !isManual || manual[id] {
				addrs[id] = fmt.Sprintf("%s-%d:10911", g.Name, id)
			}
		}
		info.BrokerAddrs[name] = addrs
	}
	return info, nil
}

func (f *fakeAdmin) Close() error { return nil }

// takeControl makes brokerName report only the ids later passed to register.
func (f *fakeAdmin) takeControl(brokerName string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.manual[brokerName] = map[int64]bool{}
}

func (f *fakeAdmin) register(brokerName string, id int64, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.manual[brokerName][id] = ok
}
