package resource_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gorocket/gorocket/api/v1alpha1"
	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/internal/operator/metadata"
	opresource "github.com/gorocket/gorocket/internal/operator/resource"
)

func group() *v1alpha1.BrokerGroup {
	size := resource.MustParse("10Gi")
	return &v1alpha1.BrokerGroup{
		ObjectMeta: metav1.ObjectMeta{Name: "broker-a", Namespace: "mq", UID: "uid-1"},
		Spec: v1alpha1.BrokerGroupSpec{
			ClusterName:         "C1",
			Replicas:            2,
			ReplicationMode:     v1alpha1.ReplicationAsync,
			FlushDiskType:       v1alpha1.FlushAsync,
			NameServerAddresses: []string{"ns-0.ns-headless.mq.svc:9876"},
			Storage:             v1alpha1.BrokerStorage{Size: &size, ReclaimPolicy: v1alpha1.ReclaimRetain},
		},
	}
}

func input(g *v1alpha1.BrokerGroup) opresource.BrokerGroupInput {
	GinkgoHelper()
	props, hash, err := opresource.RenderBrokerProperties(opresource.BrokerConfigInput{Group: g, NameServerAddrs: g.Spec.NameServerAddresses})
	Expect(err).NotTo(HaveOccurred())
	return opresource.BrokerGroupInput{Group: g, Defaults: opresource.Defaults{BrokerImage: "img:1"}, Properties: props, PropertiesHash: hash, Replicas: g.Spec.Replicas}
}

func buildSTS(in opresource.BrokerGroupInput) *appsv1.StatefulSet {
	GinkgoHelper()
	b := opresource.BrokerGroupBuilders(in)[2]
	sts := b.Build().(*appsv1.StatefulSet)
	Expect(b.Update(sts)).To(Succeed())
	return sts
}

var _ = Describe("broker properties", func() {
	It("renders the operator-owned keys from the spec, parseable by the broker's config package", func() {
		g := group()
		g.Spec.ReplicationMode = v1alpha1.ReplicationSync
		g.Spec.FlushDiskType = v1alpha1.FlushSync
		g.Spec.BrokerName = "custom"
		g.Spec.Config = map[string]string{"fileReservedTime": "120", "mapedFileSizeCommitLog": "1073741824"}
		data, _, err := opresource.RenderBrokerProperties(opresource.BrokerConfigInput{Group: g, NameServerAddrs: []string{"a:1", "b:2"}})
		Expect(err).NotTo(HaveOccurred())
		c, warns, err := conf.ParseBroker(strings.NewReader(data), "broker.properties")
		Expect(err).NotTo(HaveOccurred())
		Expect(warns).To(BeEmpty())
		Expect(c.BrokerName).To(Equal("custom"))
		Expect(c.BrokerClusterName).To(Equal("C1"))
		Expect(c.BrokerRole).To(Equal(conf.RoleSyncMaster))
		Expect(c.FlushDiskType).To(Equal(conf.FlushSync))
		Expect(c.NamesrvAddr).To(Equal([]string{"a:1", "b:2"}))
		Expect(c.FileReservedTime).To(Equal(120))
		Expect(c.MapedFileSizeCommitLog).To(Equal(int64(1073741824)))
		Expect(c.BrokerIP1).To(BeEmpty(), "set per pod through the environment")
	})

	It("is deterministic, and its hash follows the content", func() {
		g := group()
		g.Spec.Config = map[string]string{"a.b": "x", "fileReservedTime": "1", "deleteWhen": "04"}
		delete(g.Spec.Config, "a.b")
		_, h1, err := opresource.RenderBrokerProperties(opresource.BrokerConfigInput{Group: g, NameServerAddrs: []string{"a:1"}})
		Expect(err).NotTo(HaveOccurred())
		_, h2, _ := opresource.RenderBrokerProperties(opresource.BrokerConfigInput{Group: g, NameServerAddrs: []string{"a:1"}})
		Expect(h2).To(Equal(h1))
		g.Spec.Config["fileReservedTime"] = "2"
		_, h3, _ := opresource.RenderBrokerProperties(opresource.BrokerConfigInput{Group: g, NameServerAddrs: []string{"a:1"}})
		Expect(h3).NotTo(Equal(h1))
	})

	DescribeTable("refuses a bad spec.config as an invalid spec",
		func(cfg map[string]string, want string) {
			g := group()
			g.Spec.Config = cfg
			_, _, err := opresource.RenderBrokerProperties(opresource.BrokerConfigInput{Group: g, NameServerAddrs: []string{"a:1"}})
			Expect(err).To(MatchError(opresource.ErrInvalidSpec))
			Expect(err.Error()).To(ContainSubstring(want))
		},
		Entry("unknown key", map[string]string{"noSuchKey": "1"}, "noSuchKey: unknown key"),
		Entry("operator-owned key", map[string]string{"brokerIP1": "1.2.3.4"}, "brokerIP1 is set by the operator"),
		Entry("invalid value", map[string]string{"defaultTopicQueueNums": "many"}, "defaultTopicQueueNums"),
		Entry("cross-field rule", map[string]string{"maxMessageSize": "8192", "mappedFileSizeCommitLog": "4096"}, "maxMessageSize"),
	)

	It("owns exactly the keys the CRD refuses, all of them real broker keys", func() {
		known := map[string]bool{}
		for _, k := range conf.BrokerKeys() {
			known[k.Key] = true
		}
		for _, k := range opresource.OperatorOwnedBrokerKeys {
			Expect(known).To(HaveKey(k))
		}
		crd, err := os.ReadFile(filepath.Join("..", "..", "..", "config", "crd", "bases", "gorocket.io_brokergroups.yaml"))
		Expect(err).NotTo(HaveOccurred())
		// The rule is folded over lines in the YAML; join them before extracting the list.
		text := strings.Join(strings.Fields(string(crd)), " ")
		m := regexp.MustCompile(`!\(k in \[([^\]]*)\]\)`).FindStringSubmatch(text)
		Expect(m).To(HaveLen(2), "operator-owned key rule in the CRD")
		var inCRD []string
		for _, k := range strings.Split(m[1], ",") {
			inCRD = append(inCRD, strings.Trim(strings.TrimSpace(k), `'"`))
		}
		slices.Sort(inCRD)
		owned := slices.Clone(opresource.OperatorOwnedBrokerKeys)
		slices.Sort(owned)
		Expect(inCRD).To(Equal(owned))
	})
})

var _ = Describe("broker StatefulSet", func() {
	It("gives every pod its identity through the environment contract of the broker", func() {
		sts := buildSTS(input(group()))
		env := map[string]string{}
		for _, e := range sts.Spec.Template.Spec.Containers[0].Env {
			env[e.Name] = e.Value
		}
		ip1 := conf.EnvName("brokerIP1")
		Expect(ip1).To(Equal("GOROCKET_BROKER_IP1"))
		Expect(env).To(HaveKeyWithValue(ip1, "$(POD_NAME).broker-a-headless.mq.svc"))
		Expect(env).To(HaveKeyWithValue(conf.EnvName("brokerIP2"), "$(POD_NAME).broker-a-headless.mq.svc"))
		Expect(env).To(HaveKeyWithValue(opresource.EnvPodOrdinalAsBrokerID, "true"))
		Expect(env).To(HaveKey("POD_NAME"))
	})

	It("uses the cluster domain in the advertised names when configured", func() {
		in := input(group())
		in.Defaults.ClusterDomain = "cluster.local"
		sts := buildSTS(in)
		Expect(sts.Spec.Template.Spec.Containers[0].Env).To(ContainElement(corev1.EnvVar{
			Name: "GOROCKET_BROKER_IP1", Value: "$(POD_NAME).broker-a-headless.mq.svc.cluster.local"}))
	})

	It("changes the pod template hash with the configuration and the spec, not otherwise", func() {
		g := group()
		h0 := buildSTS(input(g)).Spec.Template.Annotations[metadata.AnnotationPodTemplateHash]
		Expect(buildSTS(input(g)).Spec.Template.Annotations[metadata.AnnotationPodTemplateHash]).To(Equal(h0))
		in := input(g)
		in.Replicas = 5
		Expect(buildSTS(in).Spec.Template.Annotations[metadata.AnnotationPodTemplateHash]).To(Equal(h0), "replicas are not in the template")
		g.Spec.Config = map[string]string{"fileReservedTime": "7"}
		Expect(buildSTS(input(g)).Spec.Template.Annotations[metadata.AnnotationPodTemplateHash]).NotTo(Equal(h0))
		g = group()
		g.Spec.Image = "other:2"
		Expect(buildSTS(input(g)).Spec.Template.Annotations[metadata.AnnotationPodTemplateHash]).NotTo(Equal(h0))
	})

	It("leaves immutable fields of an existing StatefulSet alone", func() {
		g := group()
		sts := buildSTS(input(g))
		sts.CreationTimestamp = metav1.Now()
		class := "premium"
		g.Spec.Storage.StorageClassName = &class
		b := opresource.BrokerGroupBuilders(input(g))[2]
		before := sts.Spec.VolumeClaimTemplates[0].DeepCopy()
		Expect(b.Update(sts)).To(Succeed())
		Expect(sts.Spec.VolumeClaimTemplates[0]).To(Equal(*before))
	})

	It("sets the claim retention from the reclaim policy", func() {
		g := group()
		g.Spec.Storage.ReclaimPolicy = v1alpha1.ReclaimDelete
		p := buildSTS(input(g)).Spec.PersistentVolumeClaimRetentionPolicy
		Expect(p.WhenDeleted).To(Equal(appsv1.DeletePersistentVolumeClaimRetentionPolicyType))
		Expect(p.WhenScaled).To(Equal(appsv1.DeletePersistentVolumeClaimRetentionPolicyType))
	})

	It("lets user scheduling settings replace the default spread, and keeps selector labels", func() {
		g := group()
		g.Spec.Pod.Affinity = &corev1.Affinity{}
		g.Spec.Pod.Labels = map[string]string{"team": "mq", metadata.LabelInstance: "hijack"}
		sts := buildSTS(input(g))
		Expect(sts.Spec.Template.Spec.TopologySpreadConstraints).To(BeEmpty())
		Expect(sts.Spec.Template.Labels).To(HaveKeyWithValue("team", "mq"))
		Expect(sts.Spec.Template.Labels).To(HaveKeyWithValue(metadata.LabelInstance, "broker-a"))
		g.Spec.Pod.Affinity = nil
		g.Spec.Pod.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 2, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule}}
		Expect(buildSTS(input(g)).Spec.Template.Spec.TopologySpreadConstraints).To(HaveExactElements(HaveField("TopologyKey", "zone")))
	})
})

var _ = Describe("Services and PDB", func() {
	It("keep a Service's cluster IP and make new headless Services headless", func() {
		b := opresource.BrokerGroupBuilders(input(group()))[1]
		svc := b.Build().(*corev1.Service)
		Expect(b.Update(svc)).To(Succeed())
		Expect(svc.Spec.ClusterIP).To(Equal(corev1.ClusterIPNone))
		svc.CreationTimestamp = metav1.Now()
		svc.Spec.ClusterIP = "None"
		Expect(b.Update(svc)).To(Succeed())
		Expect(svc.Spec.ClusterIP).To(Equal("None"))

		nsrv := &v1alpha1.NameServer{ObjectMeta: metav1.ObjectMeta{Name: "ns", Namespace: "mq"}}
		client := opresource.NameServerBuilders(nsrv, opresource.Defaults{})[1]
		csvc := client.Build().(*corev1.Service)
		csvc.CreationTimestamp = metav1.Now()
		csvc.Spec.ClusterIP = "10.0.0.7"
		Expect(client.Update(csvc)).To(Succeed())
		Expect(csvc.Spec.ClusterIP).To(Equal("10.0.0.7"))
		Expect(csvc.Spec.Ports[0].Port).To(Equal(int32(9876)))
	})

	It("allow one broker down at a time", func() {
		b := opresource.BrokerGroupBuilders(input(group()))[3]
		pdb := b.Build().(*policyv1.PodDisruptionBudget)
		Expect(b.Update(pdb)).To(Succeed())
		Expect(pdb.Spec.MaxUnavailable.IntValue()).To(Equal(1))
		Expect(pdb.Spec.Selector.MatchLabels).To(Equal(metadata.BrokerSelectorLabels(group())))
	})

	It("refuse to build the wrong kind", func() {
		b := opresource.BrokerGroupBuilders(input(group()))[3]
		Expect(b.Update(&corev1.Service{})).To(MatchError(ContainSubstring("builder for PodDisruptionBudget")))
	})
})
