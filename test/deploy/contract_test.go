package deploy_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gorocket/gorocket/api/v1alpha1"
	"github.com/gorocket/gorocket/internal/conf"
	opresource "github.com/gorocket/gorocket/internal/operator/resource"
)

// TestBrokerHonoursPodContract runs the real gorocket-broker binary the way a broker pod does:
// the operator's rendered broker.properties, the container args and the pod's environment
// (with $(VAR) references expanded as the kubelet does), and checks the effective
// configuration it prints (-p): the pod ordinal becomes brokerId, slaves run as SLAVE, and the
// pod's stable DNS name is advertised as brokerIP1/brokerIP2.
func TestBrokerHonoursPodContract(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/broker")
	}
	root := repoRoot(t)
	bin := filepath.Join(t.TempDir(), "gorocket-broker")
	build := exec.Command("go", "build", "-o", bin, "./cmd/broker")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building cmd/broker: %v\n%s", err, out)
	}

	size := resource.MustParse("1Gi")
	g := &v1alpha1.BrokerGroup{
		ObjectMeta: metav1.ObjectMeta{Name: "broker-a", Namespace: "mq"},
		Spec: v1alpha1.BrokerGroupSpec{
			ClusterName: "C1", Replicas: 3, ReplicationMode: v1alpha1.ReplicationSync, FlushDiskType: v1alpha1.FlushSync,
			Storage: v1alpha1.BrokerStorage{Size: &size},
			Config:  map[string]string{"fileReservedTime": "120", "maxMessageSize": "65536"},
		},
	}
	addrs := []string{"ns-0.ns-headless.mq.svc:9876", "ns-1.ns-headless.mq.svc:9876"}
	props, hash, err := opresource.RenderBrokerProperties(opresource.BrokerConfigInput{Group: g, NameServerAddrs: addrs})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "broker.properties")
	if err := os.WriteFile(cfgPath, []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	tmpl := opresource.BrokerPodTemplate(opresource.BrokerGroupInput{
		Group: g, Defaults: opresource.Defaults{BrokerImage: "x"}, Properties: props, PropertiesHash: hash, Replicas: 3,
	})
	c := tmpl.Spec.Containers[0]

	for ordinal, wantRole := range []string{conf.RoleSyncMaster, conf.RoleSlave, conf.RoleSlave} {
		pod := "broker-a-" + string(rune('0'+ordinal))
		args := make([]string, len(c.Args))
		copy(args, c.Args)
		for i, a := range args {
			if a == "/etc/gorocket/broker.properties" {
				args[i] = cfgPath // the ConfigMap mount
			}
		}
		cmd := exec.Command(bin, append(args, "-p")...)
		cmd.Env = podEnv(t, c.Env, map[string]string{"metadata.name": pod, "metadata.namespace": "mq"}, dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: gorocket-broker -p: %v\n%s", pod, err, out)
		}
		eff, _, err := conf.ParseBroker(strings.NewReader(string(out)), pod)
		if err != nil {
			t.Fatalf("%s: parsing the effective config: %v\n%s", pod, err, out)
		}
		host := pod + ".broker-a-headless.mq.svc"
		if eff.BrokerID != int64(ordinal) || eff.BrokerRole != wantRole {
			t.Errorf("%s: brokerId=%d brokerRole=%s, want %d %s", pod, eff.BrokerID, eff.BrokerRole, ordinal, wantRole)
		}
		if eff.BrokerIP1 != host || eff.BrokerIP2 != host {
			t.Errorf("%s: brokerIP1=%q brokerIP2=%q, want %q", pod, eff.BrokerIP1, eff.BrokerIP2, host)
		}
		if eff.BrokerName != "broker-a" || eff.BrokerClusterName != "C1" || strings.Join(eff.NamesrvAddr, ";") != strings.Join(addrs, ";") {
			t.Errorf("%s: identity %s/%s namesrv %v", pod, eff.BrokerClusterName, eff.BrokerName, eff.NamesrvAddr)
		}
		if eff.ListenPort != 10911 || eff.HAListenPort != 10912 || eff.StorePathRootDir != "/var/lib/gorocket/store" || eff.FileReservedTime != 120 {
			t.Errorf("%s: ports %d/%d store %s fileReservedTime %d", pod, eff.ListenPort, eff.HAListenPort, eff.StorePathRootDir, eff.FileReservedTime)
		}
	}
}

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// podEnv builds a container environment the way the kubelet does: downward-API fields, then
// literal values with $(VAR) references to earlier variables expanded.
func podEnv(t *testing.T, vars []corev1.EnvVar, fields map[string]string, home string) []string {
	t.Helper()
	env := map[string]string{}
	out := []string{"PATH=" + os.Getenv("PATH")}
	for _, v := range vars {
		val := v.Value
		if v.ValueFrom != nil {
			if v.ValueFrom.FieldRef == nil {
				t.Fatalf("env %s: only fieldRef is supported here", v.Name)
			}
			var ok bool
			if val, ok = fields[v.ValueFrom.FieldRef.FieldPath]; !ok {
				t.Fatalf("env %s: unknown field %s", v.Name, v.ValueFrom.FieldRef.FieldPath)
			}
		} else {
			val = envRef.ReplaceAllStringFunc(val, func(m string) string {
				if x, ok := env[m[2:len(m)-1]]; ok {
					return x
				}
				return m
			})
		}
		if v.Name == "HOME" {
			val = home // the pod's writable volume
		}
		env[v.Name] = val
		out = append(out, v.Name+"="+val)
	}
	return out
}

// TestNameServerHonoursPodContract starts the real gorocket-namesrv with the operator's
// container args and environment: it must accept TCP connections on the port the probes
// check, and exit cleanly on SIGTERM (what the kubelet sends after the preStop hook).
func TestNameServerHonoursPodContract(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/nameserver")
	}
	root := repoRoot(t)
	bin := filepath.Join(t.TempDir(), "gorocket-namesrv")
	build := exec.Command("go", "build", "-o", bin, "./cmd/nameserver")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building cmd/nameserver: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	ns := &v1alpha1.NameServer{ObjectMeta: metav1.ObjectMeta{Name: "ns", Namespace: "mq"}, Spec: v1alpha1.NameServerSpec{ListenPort: int32(port)}}
	c := opresource.NameServerPodTemplate(ns, opresource.Defaults{NameServerImage: "x"}).Spec.Containers[0]
	if got := c.ReadinessProbe.TCPSocket.Port.String(); got != c.Ports[0].Name || c.Ports[0].ContainerPort != int32(port) {
		t.Fatalf("probe port %s does not name container port %+v", got, c.Ports[0])
	}
	cmd := exec.Command(bin, c.Args...)
	cmd.Env = podEnv(t, c.Env, map[string]string{"metadata.name": "ns-0", "metadata.namespace": "mq"}, t.TempDir())
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	}()

	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("gorocket-namesrv exited before listening: %v\n%s", err, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("gorocket-namesrv does not accept connections on %s\n%s", addr, logs.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("gorocket-namesrv did not exit cleanly on SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("gorocket-namesrv still running 20 s after SIGTERM\n%s", logs.String())
	}
}
