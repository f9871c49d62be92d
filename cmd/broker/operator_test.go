package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gorocket/gorocket/api/v1alpha1"
	"github.com/gorocket/gorocket/broker"
	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/internal/operator/metadata"
	opresource "github.com/gorocket/gorocket/internal/operator/resource"
)

var kubeEnvRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// kubeletEnv resolves a container's environment the way the kubelet does: downward-API field
// references from fields, literal values with $(VAR) references to earlier variables expanded.
func kubeletEnv(t *testing.T, vars []corev1.EnvVar, fields map[string]string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, v := range vars {
		val := v.Value
		switch {
		case v.ValueFrom != nil && v.ValueFrom.FieldRef != nil:
			var ok bool
			if val, ok = fields[v.ValueFrom.FieldRef.FieldPath]; !ok {
				t.Fatalf("env %s: field %s not provided by the test", v.Name, v.ValueFrom.FieldRef.FieldPath)
			}
		case v.ValueFrom != nil:
			t.Fatalf("env %s: unsupported source %+v", v.Name, v.ValueFrom)
		default:
			val = kubeEnvRef.ReplaceAllStringFunc(val, func(m string) string {
				if x, ok := env[m[2:len(m)-1]]; ok {
					return x
				}
				return m
			})
		}
		env[v.Name] = val
	}
	return env
}

// TestBrokerCmdOperatorPodContract feeds cmd/broker exactly what the operator renders for a
// StatefulSet pod (internal/operator/resource): the ConfigMap's broker.properties through the
// container's args, and the container's environment as the kubelet resolves it. Every ordinal
// must come up with the contract of docs/operator.md: brokerId = ordinal, SLAVE for ordinals > 0
// (the file carries the master's SYNC_MASTER), the pod's stable DNS name as brokerIP1/brokerIP2,
// the HA port 10912 advertised with that name, and a pod name without an ordinal refused.
func TestBrokerCmdOperatorPodContract(t *testing.T) {
	size := resource.MustParse("1Gi")
	g := &v1alpha1.BrokerGroup{
		ObjectMeta: metav1.ObjectMeta{Name: "broker-a", Namespace: "mq"},
		Spec: v1alpha1.BrokerGroupSpec{
			ClusterName: "C1", Replicas: 3, ReplicationMode: v1alpha1.ReplicationSync, FlushDiskType: v1alpha1.FlushAsync,
			Storage: v1alpha1.BrokerStorage{Size: &size},
			Config:  map[string]string{"slaveReadEnable": "true", "slaveTimeout": "2000"},
		},
	}
	addrs := []string{"ns-0.ns-headless.mq.svc:9876", "ns-1.ns-headless.mq.svc:9876"}
	props, hash, err := opresource.RenderBrokerProperties(opresource.BrokerConfigInput{Group: g, NameServerAddrs: addrs})
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "broker.properties")
	if err := os.WriteFile(cfgPath, []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	tmpl := opresource.BrokerPodTemplate(opresource.BrokerGroupInput{
		Group: g, Defaults: opresource.Defaults{BrokerImage: "img"}, Properties: props, PropertiesHash: hash, Replicas: 3,
	})
	c := tmpl.Spec.Containers[0]
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = a
		if a == metadata.BrokerConfigPath {
			args[i] = cfgPath // the ConfigMap mount
		}
	}
	f, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatalf("operator args %q: %v", c.Args, err)
	}
	if f.configPath != cfgPath {
		t.Fatalf("operator args %q do not name the config file", c.Args)
	}
	var haPort int32
	for _, p := range c.Ports {
		if p.Name == metadata.BrokerHAName {
			haPort = p.ContainerPort
		}
	}

	for ordinal, wantRole := range []string{conf.RoleSyncMaster, conf.RoleSlave, conf.RoleSlave} {
		pod := "broker-a-" + strconv.Itoa(ordinal)
		env := kubeletEnv(t, c.Env, map[string]string{"metadata.name": pod, "metadata.namespace": "mq"})
		cfg, warns, err := loadConfig(f, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err != nil {
			t.Fatalf("%s: %v", pod, err)
		}
		for _, w := range warns {
			t.Errorf("%s: unexpected configuration warning: %s", pod, w.String())
		}
		host := pod + ".broker-a-headless.mq.svc"
		if cfg.BrokerID != int64(ordinal) || cfg.BrokerRole != wantRole {
			t.Errorf("%s: brokerId %d role %s, want %d %s", pod, cfg.BrokerID, cfg.BrokerRole, ordinal, wantRole)
		}
		if cfg.BrokerIP1 != host || cfg.BrokerIP2 != host {
			t.Errorf("%s: brokerIP1 %q brokerIP2 %q, want %q", pod, cfg.BrokerIP1, cfg.BrokerIP2, host)
		}
		if cfg.BrokerName != "broker-a" || cfg.BrokerClusterName != "C1" || strings.Join(cfg.NamesrvAddr, ";") != strings.Join(addrs, ";") {
			t.Errorf("%s: identity %s/%s nameservers %v", pod, cfg.BrokerClusterName, cfg.BrokerName, cfg.NamesrvAddr)
		}
		if cfg.ListenPort != int(metadata.BrokerPort) || cfg.HAListenPort != int(haPort) || cfg.HAMasterAddress != "" {
			t.Errorf("%s: listenPort %d haListenPort %d (container HA port %d) haMasterAddress %q", pod, cfg.ListenPort, cfg.HAListenPort, haPort, cfg.HAMasterAddress)
		}
		if cfg.StorePathRootDir != metadata.StoreRootDir || !cfg.SlaveReadEnable || cfg.SlaveTimeout != 2000 {
			t.Errorf("%s: store %s slaveReadEnable %v slaveTimeout %d", pod, cfg.StorePathRootDir, cfg.SlaveReadEnable, cfg.SlaveTimeout)
		}
		// The broker binds every interface (no --listen-host in the pod) and listens for slaves
		// on haListenPort; it advertises the pod's DNS name for both.
		opts := broker.OptionsFromConfig(cfg)
		if opts.ListenAddr != ":10911" {
			t.Errorf("%s: listen address %q, want :10911", pod, opts.ListenAddr)
		}
	}

	env := kubeletEnv(t, c.Env, map[string]string{"metadata.name": "broker-a", "metadata.namespace": "mq"})
	if _, _, err := loadConfig(f, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err == nil || !strings.Contains(err.Error(), "no ordinal") {
		t.Fatalf("a pod name without an ordinal must be refused, got %v", err)
	}
}
