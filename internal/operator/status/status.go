// Package status computes the status conditions of the gorocket custom resources. Every
// condition is a pure function of what the controller observed (children, pods, its own
// decisions such as a refused scale-down) plus the previous conditions, whose
// LastTransitionTime is kept when a condition's status does not change.
package status

import (
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gorocket/gorocket/api/v1alpha1"
	"github.com/gorocket/gorocket/internal/operator/metadata"
)

// ReconcileResult is the outcome of the reconcile pass, for the ReconcileSuccess condition.
type ReconcileResult struct {
	// Reason is empty on success, else a v1alpha1.Reason* value.
	Reason  string
	Message string
}

// Succeeded reports whether the pass succeeded.
func (r ReconcileResult) Succeeded() bool { return r.Reason == "" }

// PodReady reports whether a pod is Ready and not being deleted.
func PodReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// set merges c into conds, keeping LastTransitionTime when the status is unchanged.
func set(conds *[]metav1.Condition, c metav1.Condition) {
	meta.SetStatusCondition(conds, c)
}

func cond(t string, ok bool, gen int64, reason, msg string) metav1.Condition {
	s := metav1.ConditionFalse
	if ok {
		s = metav1.ConditionTrue
	}
	return metav1.Condition{Type: t, Status: s, ObservedGeneration: gen, Reason: reason, Message: msg}
}

func reconcileSuccess(r ReconcileResult, gen int64) metav1.Condition {
	if r.Succeeded() {
		return cond(v1alpha1.ConditionReconcileSuccess, true, gen, v1alpha1.ReasonSuccess, "the children match the spec")
	}
	return cond(v1alpha1.ConditionReconcileSuccess, false, gen, r.Reason, r.Message)
}

func copyConditions(old []metav1.Condition) []metav1.Condition {
	out := make([]metav1.Condition, len(old))
	copy(out, old)
	return out
}

// ---- NameServer ----

// NameServerObservation is what a NameServer's status is computed from.
type NameServerObservation struct {
	Generation      int64
	DesiredReplicas int32
	// StatefulSet as read from the API server; nil if it does not exist.
	StatefulSet *appsv1.StatefulSet
	Paused      bool
	Result      ReconcileResult
}

// NameServerConditions returns the NameServer's conditions.
func NameServerConditions(o NameServerObservation, old []metav1.Condition) []metav1.Condition {
	conds := copyConditions(old)
	g := o.Generation
	sts := o.StatefulSet
	var ready, updated, current int32
	rolled, observed := false, false
	if sts != nil {
		ready, updated, current = sts.Status.ReadyReplicas, sts.Status.UpdatedReplicas, sts.Status.Replicas
		observed = sts.Status.ObservedGeneration >= sts.Generation
		rolled = observed && sts.Status.UpdateRevision != "" && sts.Status.CurrentRevision == sts.Status.UpdateRevision && updated == current
	}

	switch {
	case sts == nil:
		set(&conds, cond(v1alpha1.ConditionAvailable, false, g, v1alpha1.ReasonNoStatefulSet, "the StatefulSet does not exist yet"))
	case ready > 0:
		set(&conds, cond(v1alpha1.ConditionAvailable, true, g, v1alpha1.ReasonNameServerReady, fmt.Sprintf("%d nameserver(s) Ready", ready)))
	default:
		set(&conds, cond(v1alpha1.ConditionAvailable, false, g, v1alpha1.ReasonNoNameServerReady, "no nameserver is Ready"))
	}

	allReady := sts != nil && rolled && current == o.DesiredReplicas && ready == o.DesiredReplicas
	set(&conds, cond(v1alpha1.ConditionAllReplicasReady, allReady, g, pick(allReady, v1alpha1.ReasonAllPodsReady, v1alpha1.ReasonPodsNotReady),
		fmt.Sprintf("%d/%d nameservers Ready", ready, o.DesiredReplicas)))

	switch {
	case o.Paused:
		set(&conds, cond(v1alpha1.ConditionProgressing, false, g, v1alpha1.ReasonPaused, "reconciliation is paused"))
	case sts == nil:
		set(&conds, cond(v1alpha1.ConditionProgressing, true, g, v1alpha1.ReasonNoStatefulSet, "creating the StatefulSet"))
	case !rolled:
		set(&conds, cond(v1alpha1.ConditionProgressing, true, g, v1alpha1.ReasonRollingRestart,
			fmt.Sprintf("%d/%d nameservers run the current template", updated, current)))
	case current != o.DesiredReplicas:
		set(&conds, cond(v1alpha1.ConditionProgressing, true, g, v1alpha1.ReasonScaling,
			fmt.Sprintf("scaling from %d to %d nameservers", current, o.DesiredReplicas)))
	case ready != o.DesiredReplicas:
		set(&conds, cond(v1alpha1.ConditionProgressing, true, g, v1alpha1.ReasonWaitingForPods,
			fmt.Sprintf("waiting for %d nameserver(s) to become Ready", o.DesiredReplicas-ready)))
	default:
		set(&conds, cond(v1alpha1.ConditionProgressing, false, g, v1alpha1.ReasonUpToDate, "all nameservers are up to date"))
	}
	set(&conds, reconcileSuccess(o.Result, g))
	if o.Paused {
		set(&conds, cond(v1alpha1.ConditionWarning, true, g, v1alpha1.ReasonPaused,
			"annotation "+v1alpha1.PauseReconcileAnnotation+" is set: the operator changes nothing"))
	} else {
		set(&conds, cond(v1alpha1.ConditionWarning, false, g, v1alpha1.ReasonNoWarnings, "no warnings"))
	}
	return conds
}

func pick(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

// ---- BrokerGroup ----

// BrokerGroupObservation is what a BrokerGroup's status is computed from.
type BrokerGroupObservation struct {
	Group *v1alpha1.BrokerGroup
	// StatefulSet as read from (or just written to) the API server; nil if it does not exist.
	StatefulSet *appsv1.StatefulSet
	// Pods of the group, any order.
	Pods   []corev1.Pod
	Paused bool
	// ScaleDownRefused, when set, explains why spec.replicas was not applied.
	ScaleDownRefused string
	// RollBlocked, when set, explains why a rolling restart cannot proceed.
	RollBlocked string
	Result      ReconcileResult
	// AdminEnabled says the operator has an admin client. Registered maps brokerId to whether
	// the nameservers list that broker (nil when they were not asked this pass, e.g. paused);
	// AdminError is set when they could not be asked.
	AdminEnabled bool
	Registered   map[int64]bool
	AdminError   string
}

// TemplateHash is the pod template hash of the StatefulSet ("" without one).
func (o BrokerGroupObservation) TemplateHash() string {
	if o.StatefulSet == nil {
		return ""
	}
	return o.StatefulSet.Spec.Template.Annotations[metadata.AnnotationPodTemplateHash]
}

// PodUpdated reports whether a pod runs the current template.
func PodUpdated(p *corev1.Pod, templateHash string) bool {
	return templateHash != "" && p.Annotations[metadata.AnnotationPodTemplateHash] == templateHash
}

// OrderedPods returns the group's pods with a valid ordinal, by ordinal.
func OrderedPods(stsName string, pods []corev1.Pod) []OrdinalPod {
	var out []OrdinalPod
	for i := range pods {
		if n, ok := metadata.PodOrdinal(stsName, pods[i].Name); ok {
			out = append(out, OrdinalPod{Ordinal: n, Pod: &pods[i]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ordinal < out[j].Ordinal })
	return out
}

// OrdinalPod is a StatefulSet pod with its ordinal.
type OrdinalPod struct {
	Ordinal int
	Pod     *corev1.Pod
}

// BrokerMembers lists the group's pods for the status, by ordinal.
func BrokerMembers(o BrokerGroupObservation) []v1alpha1.BrokerMember {
	g := o.Group
	hash := o.TemplateHash()
	var out []v1alpha1.BrokerMember
	for _, op := range OrderedPods(metadata.BrokerStatefulSetName(g), o.Pods) {
		m := v1alpha1.BrokerMember{
			Pod:      op.Pod.Name,
			BrokerID: int64(op.Ordinal),
			Role:     g.RoleOf(op.Ordinal),
			Ready:    PodReady(op.Pod),
			Updated:  PodUpdated(op.Pod, hash),
		}
		if o.Registered != nil {
			r := o.Registered[int64(op.Ordinal)]
			m.Registered = &r
		}
		out = append(out, m)
	}
	return out
}

// BrokerGroupConditions returns the BrokerGroup's conditions.
func BrokerGroupConditions(o BrokerGroupObservation, old []metav1.Condition) []metav1.Condition {
	conds := copyConditions(old)
	g := o.Group.Generation
	desired := o.Group.Spec.Replicas
	hash := o.TemplateHash()
	pods := OrderedPods(metadata.BrokerStatefulSetName(o.Group), o.Pods)

	var master *corev1.Pod
	var ready, updated int32
	var notReady, outdated []string
	extra := 0
	for _, op := range pods {
		if op.Ordinal == 0 {
			master = op.Pod
		}
		if op.Ordinal >= int(desired) {
			extra++
		}
		if PodReady(op.Pod) {
			ready++
		} else {
			notReady = append(notReady, op.Pod.Name)
		}
		if PodUpdated(op.Pod, hash) {
			updated++
		} else {
			outdated = append(outdated, op.Pod.Name)
		}
	}

	// Available: the master serves reads and writes.
	switch {
	case o.StatefulSet == nil:
		set(&conds, cond(v1alpha1.ConditionAvailable, false, g, v1alpha1.ReasonNoStatefulSet, "the StatefulSet does not exist yet"))
	case master != nil && PodReady(master):
		set(&conds, cond(v1alpha1.ConditionAvailable, true, g, v1alpha1.ReasonMasterReady, "master "+master.Name+" is Ready"))
	default:
		set(&conds, cond(v1alpha1.ConditionAvailable, false, g, v1alpha1.ReasonMasterNotReady, "the master (ordinal 0) is not Ready"))
	}

	// AllReplicasReady: exactly spec.replicas pods, all Ready and on the current template.
	all := o.StatefulSet != nil && len(pods) == int(desired) && extra == 0 && ready == desired && updated == desired
	msg := fmt.Sprintf("%d/%d brokers Ready", ready, desired)
	if len(notReady) > 0 {
		msg += "; not Ready: " + strings.Join(notReady, ", ")
	}
	set(&conds, cond(v1alpha1.ConditionAllReplicasReady, all, g, pick(all, v1alpha1.ReasonAllPodsReady, v1alpha1.ReasonPodsNotReady), msg))

	// Progressing: what the operator (or the StatefulSet controller) is doing right now.
	var running int32
	if o.StatefulSet != nil && o.StatefulSet.Spec.Replicas != nil {
		running = *o.StatefulSet.Spec.Replicas
	}
	present := map[int]bool{}
	highest := -1
	for _, op := range pods {
		present[op.Ordinal] = true
		highest = max(highest, op.Ordinal)
	}
	var missing []int
	for i := 0; i < int(running); i++ {
		if !present[i] {
			missing = append(missing, i)
		}
	}
	switch {
	case o.Paused:
		set(&conds, cond(v1alpha1.ConditionProgressing, false, g, v1alpha1.ReasonPaused, "reconciliation is paused"))
	case o.StatefulSet == nil:
		set(&conds, cond(v1alpha1.ConditionProgressing, true, g, v1alpha1.ReasonNoStatefulSet, "creating the StatefulSet"))
	case len(outdated) > 0:
		set(&conds, cond(v1alpha1.ConditionProgressing, true, g, v1alpha1.ReasonRollingRestart,
			fmt.Sprintf("rolling restart, slaves first and master last: %d/%d brokers updated; pending: %s", updated, len(pods), strings.Join(outdated, ", "))))
	case len(missing) > 0 && missing[0] < highest:
		// A gap below an existing pod: a pod was deleted (a restart) and is being recreated.
		set(&conds, cond(v1alpha1.ConditionProgressing, true, g, v1alpha1.ReasonWaitingForPods,
			fmt.Sprintf("waiting for %s to be recreated", metadata.PodName(metadata.BrokerStatefulSetName(o.Group), missing[0]))))
	case len(pods) != int(running):
		set(&conds, cond(v1alpha1.ConditionProgressing, true, g, v1alpha1.ReasonScaling,
			fmt.Sprintf("scaling from %d to %d brokers", len(pods), running)))
	case len(notReady) > 0:
		set(&conds, cond(v1alpha1.ConditionProgressing, true, g, v1alpha1.ReasonWaitingForPods,
			"waiting for "+strings.Join(notReady, ", ")+" to become Ready"))
	default:
		set(&conds, cond(v1alpha1.ConditionProgressing, false, g, v1alpha1.ReasonUpToDate, "all brokers are up to date"))
	}

	set(&conds, reconcileSuccess(o.Result, g))

	switch {
	case o.Paused:
		set(&conds, cond(v1alpha1.ConditionWarning, true, g, v1alpha1.ReasonPaused,
			"annotation "+v1alpha1.PauseReconcileAnnotation+" is set: the operator changes nothing"))
	case o.ScaleDownRefused != "":
		set(&conds, cond(v1alpha1.ConditionWarning, true, g, v1alpha1.ReasonScaleDownRefused, o.ScaleDownRefused))
	case o.RollBlocked != "":
		set(&conds, cond(v1alpha1.ConditionWarning, true, g, v1alpha1.ReasonRollBlocked, o.RollBlocked))
	default:
		set(&conds, cond(v1alpha1.ConditionWarning, false, g, v1alpha1.ReasonNoWarnings, "no warnings"))
	}

	switch {
	case !o.AdminEnabled:
		meta.RemoveStatusCondition(&conds, v1alpha1.ConditionBrokersRegistered)
	case o.AdminError != "":
		set(&conds, cond(v1alpha1.ConditionBrokersRegistered, false, g, v1alpha1.ReasonAdminUnavailable, o.AdminError))
	case o.Registered != nil:
		var missing []string
		for _, op := range pods {
			if !o.Registered[int64(op.Ordinal)] {
				missing = append(missing, op.Pod.Name)
			}
		}
		ok := len(missing) == 0 && len(pods) > 0
		m := "every broker is registered with the nameservers"
		if !ok {
			m = "not registered with the nameservers: " + strings.Join(missing, ", ")
		}
		set(&conds, cond(v1alpha1.ConditionBrokersRegistered, ok, g, pick(ok, v1alpha1.ReasonBrokersRegistered, v1alpha1.ReasonBrokersUnregistered), m))
	}
	// Otherwise (not asked this pass) the previous BrokersRegistered condition stays.
	return conds
}
