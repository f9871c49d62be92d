package controllers_test

import (
	"context"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gorocket/gorocket/api/v1alpha1"
)

// The CRDs validate every field (OpenAPI and CEL) so mistakes fail at `kubectl apply` with a
// readable message instead of surfacing later in a pod.
var _ = Describe("CRD validation", func() {
	var ctx context.Context
	var ns string

	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx, "valid")
	})

	DescribeTable("rejects an invalid NameServer",
		func(name string, mutate func(*v1alpha1.NameServer), want string) {
			o := &v1alpha1.NameServer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
			mutate(o)
			err := k8sClient.Create(ctx, o)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(want))
		},
		Entry("replicas below 1", "ns", func(o *v1alpha1.NameServer) { o.Spec.Replicas = ptr(int32(0)) },
			"spec.replicas in body should be greater than or equal to 1"),
		Entry("replicas above 32", "ns", func(o *v1alpha1.NameServer) { o.Spec.Replicas = ptr(int32(33)) },
			"spec.replicas in body should be less than or equal to 32"),
		Entry("privileged listen port", "ns", func(o *v1alpha1.NameServer) { o.Spec.ListenPort = 80 },
			"spec.listenPort in body should be greater than or equal to 1024"),
		Entry("image with a space", "ns", func(o *v1alpha1.NameServer) { o.Spec.Image = "gorocket namesrv" },
			"spec.image in body should match"),
		Entry("unknown pull policy", "ns", func(o *v1alpha1.NameServer) { o.Spec.ImagePullPolicy = "Sometimes" },
			`spec.imagePullPolicy: Unsupported value: "Sometimes"`),
		Entry("name that cannot name a Service", "9lives", func(*v1alpha1.NameServer) {},
			"metadata.name must be a DNS-1035 label"),
		Entry("name too long for pod names", strings.Repeat("n", 53), func(*v1alpha1.NameServer) {},
			"metadata.name must be at most 52 characters"),
		Entry("pod label in the operator's prefix", "ns", func(o *v1alpha1.NameServer) {
			o.Spec.Pod.Labels = map[string]string{"app.kubernetes.io/name": "mine"}
		}, "pod.labels must not use the app.kubernetes.io/ or gorocket.io/ prefixes"),
		Entry("pod annotation in the operator's prefix", "ns", func(o *v1alpha1.NameServer) {
			o.Spec.Pod.Annotations = map[string]string{"gorocket.io/pod-template-hash": "x"}
		}, "pod.annotations must not use the gorocket.io/ prefix"),
		Entry("zero grace period", "ns", func(o *v1alpha1.NameServer) { o.Spec.Pod.TerminationGracePeriodSeconds = ptr(int64(0)) },
			"spec.pod.terminationGracePeriodSeconds in body should be greater than or equal to 1"),
	)

	DescribeTable("rejects an invalid BrokerGroup",
		func(mutate func(*v1alpha1.BrokerGroup), want string) {
			g := newBrokerGroup(ns, "bg", 2)
			mutate(g)
			err := k8sClient.Create(ctx, g)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(want))
		},
		Entry("no nameservers", func(g *v1alpha1.BrokerGroup) { g.Spec.NameServerAddresses = nil },
			"exactly one of nameServerRef or nameServerAddresses must be set"),
		Entry("both nameserver forms", func(g *v1alpha1.BrokerGroup) {
			g.Spec.NameServerRef = &v1alpha1.NameServerReference{Name: "ns"}
		}, "exactly one of nameServerRef or nameServerAddresses must be set"),
		Entry("nameserver address without port", func(g *v1alpha1.BrokerGroup) { g.Spec.NameServerAddresses = []string{"ns-0"} },
			"spec.nameServerAddresses[0] in body should match"),
		Entry("empty nameServerRef name", func(g *v1alpha1.BrokerGroup) {
			g.Spec.NameServerAddresses = nil
			g.Spec.NameServerRef = &v1alpha1.NameServerReference{}
		}, "spec.nameServerRef.name in body should be at least 1 chars long"),
		Entry("replicas below 1", func(g *v1alpha1.BrokerGroup) { g.Spec.Replicas = -1 },
			"spec.replicas in body should be greater than or equal to 1"),
		Entry("replicas above 16", func(g *v1alpha1.BrokerGroup) { g.Spec.Replicas = 17 },
			"spec.replicas in body should be less than or equal to 16"),
		Entry("unknown replication mode", func(g *v1alpha1.BrokerGroup) { g.Spec.ReplicationMode = "Semi" },
			`spec.replicationMode: Unsupported value: "Semi": supported values: "Sync", "Async"`),
		Entry("unknown flush type", func(g *v1alpha1.BrokerGroup) { g.Spec.FlushDiskType = "Never" },
			`spec.flushDiskType: Unsupported value: "Never"`),
		Entry("sync replication without a slave", func(g *v1alpha1.BrokerGroup) {
			g.Spec.ReplicationMode = v1alpha1.ReplicationSync
			g.Spec.Replicas = 1
		}, "replicationMode Sync needs replicas >= 2"),
		Entry("cluster name with a space", func(g *v1alpha1.BrokerGroup) { g.Spec.ClusterName = "my cluster" },
			"spec.clusterName in body should match"),
		Entry("broker name with a slash", func(g *v1alpha1.BrokerGroup) { g.Spec.BrokerName = "a/b" },
			"spec.brokerName in body should match"),
		Entry("zero storage", func(g *v1alpha1.BrokerGroup) { g.Spec.Storage.Size = ptr(resource.MustParse("0")) },
			"storage.size must be greater than zero"),
		Entry("unknown reclaim policy", func(g *v1alpha1.BrokerGroup) { g.Spec.Storage.ReclaimPolicy = "Keep" },
			`spec.storage.reclaimPolicy: Unsupported value: "Keep"`),
		Entry("operator-owned config key", func(g *v1alpha1.BrokerGroup) { g.Spec.Config = map[string]string{"brokerId": "3"} },
			"config must not set operator-owned keys"),
		Entry("config key that is no property name", func(g *v1alpha1.BrokerGroup) { g.Spec.Config = map[string]string{"file reserved": "3"} },
			"config keys must be broker property names"),
		Entry("overlong config value", func(g *v1alpha1.BrokerGroup) {
			g.Spec.Config = map[string]string{"messageDelayLevel": strings.Repeat("1s ", 400)}
		}, "config values must be at most 1024 characters"),
	)

	Describe("immutable fields", func() {
		var g *v1alpha1.BrokerGroup
		BeforeEach(func() {
			g = newBrokerGroup(ns, "fixed", 2)
			g.Spec.Storage.StorageClassName = ptr("standard")
			Expect(k8sClient.Create(ctx, g)).To(Succeed())
		})

		DescribeTable("refuses the change",
			func(mutate func(*v1alpha1.BrokerGroup), want string) {
				cur := getBrokerGroup(ctx, ns, "fixed")
				mutate(cur)
				err := k8sClient.Update(ctx, cur)
				Expect(err).To(HaveOccurred())
				Expect(err.Error()).To(ContainSubstring(want))
			},
			Entry("clusterName", func(g *v1alpha1.BrokerGroup) { g.Spec.ClusterName = "Other" }, "clusterName is immutable"),
			Entry("brokerName set after creation", func(g *v1alpha1.BrokerGroup) { g.Spec.BrokerName = "renamed" }, "brokerName is immutable"),
			Entry("storageClassName", func(g *v1alpha1.BrokerGroup) { g.Spec.Storage.StorageClassName = ptr("premium") },
				"storage.storageClassName is immutable"),
			Entry("storageClassName removed", func(g *v1alpha1.BrokerGroup) { g.Spec.Storage.StorageClassName = nil },
				"storage.storageClassName is immutable"),
			Entry("storage size", func(g *v1alpha1.BrokerGroup) { g.Spec.Storage.Size = ptr(resource.MustParse("50Gi")) },
				"storage.size is immutable"),
		)

		It("accepts brokerName spelled out as its default, and mutable fields", func() {
			cur := getBrokerGroup(ctx, ns, "fixed")
			cur.Spec.BrokerName = "fixed"
			cur.Spec.Replicas = 3
			cur.Spec.Storage.ReclaimPolicy = v1alpha1.ReclaimDelete
			Expect(k8sClient.Update(ctx, cur)).To(Succeed())
		})

		It("applies the rules to the scale subresource too", func() {
			cur := getBrokerGroup(ctx, ns, "fixed")
			cur.Spec.ReplicationMode = v1alpha1.ReplicationSync
			Expect(k8sClient.Update(ctx, cur)).To(Succeed())
			scale := &autoscalingv1.Scale{}
			Expect(k8sClient.SubResource("scale").Get(ctx, cur, scale)).To(Succeed())
			scale.Spec.Replicas = 1
			err := k8sClient.SubResource("scale").Update(ctx, cur, client.WithSubResourceBody(scale))
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("replicationMode Sync needs replicas >= 2"))
			scale.Spec.Replicas = 0
			err = k8sClient.SubResource("scale").Update(ctx, cur, client.WithSubResourceBody(scale))
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("greater than or equal to 1"))
		})
	})
})
