package controllers_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gorocket/gorocket/api/v1alpha1"
	"github.com/gorocket/gorocket/internal/operator/manager"
	"github.com/gorocket/gorocket/internal/operator/metadata"
)

// readObjects decodes every document of a multi-document YAML file into typed objects.
func readObjects(path string) []client.Object {
	GinkgoHelper()
	f, err := os.Open(path)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	decoder := serializer.NewCodecFactory(manager.NewScheme()).UniversalDeserializer()
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	var out []client.Object
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		Expect(err).NotTo(HaveOccurred())
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, _, err := decoder.Decode(doc, nil, nil)
		Expect(err).NotTo(HaveOccurred(), "decoding a document of %s", path)
		out = append(out, obj.(client.Object))
	}
	return out
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			b.Write(line)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// The manager built by manager.New (the one cmd/operator runs) reconciles every topology of
// config/samples, applied together in one namespace as `kubectl apply -k config/samples` would.
var _ = Describe("config/samples", func() {
	It("are reconciled by the operator's manager into running topologies", func() {
		ctx := context.Background()
		ns := newNamespace(ctx, "samples")
		files, err := filepath.Glob(filepath.Join(repoRoot, "config", "samples", "*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		var groups []*v1alpha1.BrokerGroup
		var nameServers []*v1alpha1.NameServer
		for _, file := range files {
			if filepath.Base(file) == "kustomization.yaml" {
				continue
			}
			for _, obj := range readObjects(file) {
				obj.SetNamespace(ns)
				Expect(k8sClient.Create(ctx, obj)).To(Succeed(), "creating %s from %s", obj.GetName(), file)
				switch o := obj.(type) {
				case *v1alpha1.BrokerGroup:
					groups = append(groups, o)
				case *v1alpha1.NameServer:
					nameServers = append(nameServers, o)
				}
			}
		}
		Expect(nameServers).To(HaveLen(4), "one NameServer per topology")
		Expect(groups).To(HaveLen(7), "1 + 2 + 2 + 2 broker groups")

		for _, n := range nameServers {
			eventuallySTS(ctx, ns, n.Name)
			startGroupPods(ctx, ns, n.Name)
		}
		modes := map[string]string{}
		for _, g := range groups {
			eventuallySTS(ctx, ns, g.Name)
			Eventually(func() bool {
				cur := getBrokerGroup(ctx, ns, g.Name)
				return cur.Status.ObservedGeneration == cur.Generation &&
					condition(cur.Status.Conditions, v1alpha1.ConditionReconcileSuccess) == "True/Success"
			}).Should(BeTrue(), "BrokerGroup %s reconciled", g.Name)
			startGroupPods(ctx, ns, g.Name)
			Eventually(groupCondition(ctx, ns, g.Name, v1alpha1.ConditionAllReplicasReady)).Should(Equal("True/AllPodsReady"), g.Name)
			cur := getBrokerGroup(ctx, ns, g.Name)
			Expect(cur.Status.Members[0].Role).NotTo(Equal(v1alpha1.RoleSlave))
			modes[g.Name] = cur.Status.Members[0].Role

			cm := &corev1.ConfigMap{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: g.Name + "-config"}, cm)).To(Succeed())
			Expect(cm.Data[metadata.BrokerConfigKey]).To(ContainSubstring("brokerRole=" + modes[g.Name]))
			Expect(cm.Data[metadata.BrokerConfigKey]).To(ContainSubstring("fileReservedTime=120"))
		}
		Expect(modes).To(HaveKeyWithValue("sync-broker-a", v1alpha1.RoleSyncMaster))
		Expect(modes).To(HaveKeyWithValue("async-broker-b", v1alpha1.RoleAsyncMaster))
		Expect(getBrokerGroup(ctx, ns, "sync-broker-b").Status.Members).To(HaveLen(2))
		Expect(getBrokerGroup(ctx, ns, "noslave-broker-a").Status.Members).To(HaveLen(1))
	})
})
