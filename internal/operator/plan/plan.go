// Package plan holds the operator's safety decisions as pure functions of observed state: how
// many broker replicas may run now (refusing unsafe scale-downs), and which pod a rolling
// restart may replace next (slaves first, master last, one at a time, each after the previous
// one is back). The controllers act on the decisions; the tests exercise them directly.
package plan

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/gorocket/gorocket/api/v1alpha1"
	"github.com/gorocket/gorocket/internal/operator/metadata"
	"github.com/gorocket/gorocket/internal/operator/status"
)

// ScaleDecision is the number of broker pods to run.
type ScaleDecision struct {
	// Replicas for the StatefulSet.
	Replicas int32
	// Refused explains why a lower spec.replicas was not applied ("" when it was, or when the
	// change is not a scale-down).
	Refused string
}

// Scale decides the StatefulSet's replicas. Scaling up is always allowed. Scaling down removes
// the highest ordinals (slaves) and is refused, keeping the current count, when it would go
// below one broker, leave a SYNC_MASTER without a slave, or when a broker that stays is not
// Ready: removing a copy of the data while the remaining ones are unhealthy could leave no
// readable copy. A refused scale-down proceeds by itself once the reason is gone.
func Scale(g *v1alpha1.BrokerGroup, sts *appsv1.StatefulSet, pods []corev1.Pod) ScaleDecision {
	desired := g.Spec.Replicas
	if sts == nil || sts.Spec.Replicas == nil {
		return ScaleDecision{Replicas: max(desired, 1)}
	}
	current := *sts.Spec.Replicas
	if desired >= current {
		return ScaleDecision{Replicas: desired}
	}
	refuse := func(format string, a ...any) ScaleDecision {
		return ScaleDecision{Replicas: current, Refused: fmt.Sprintf("scale-down from %d to %d refused: ", current, desired) + fmt.Sprintf(format, a...)}
	}
	if desired < 1 {
		return refuse("a group keeps at least its master (ordinal 0); delete the BrokerGroup to remove it")
	}
	if g.Spec.ReplicationMode == v1alpha1.ReplicationSync && desired < 2 {
		return refuse("a SYNC_MASTER needs a slave to acknowledge sends; switch replicationMode to Async first")
	}
	byOrdinal := map[int]*corev1.Pod{}
	for _, op := range status.OrderedPods(metadata.BrokerStatefulSetName(g), pods) {
		byOrdinal[op.Ordinal] = op.Pod
	}
	var unhealthy []string
	for i := 0; i < int(desired); i++ {
		p, ok := byOrdinal[i]
		switch {
		case !ok:
			unhealthy = append(unhealthy, metadata.PodName(metadata.BrokerStatefulSetName(g), i)+" (missing)")
		case !status.PodReady(p):
			unhealthy = append(unhealthy, p.Name+" (not Ready)")
		}
	}
	if len(unhealthy) > 0 {
		return refuse("the brokers that would remain are not all Ready: %s; removing a replica now could leave no readable copy of the data. The scale-down proceeds once they are Ready",
			strings.Join(unhealthy, ", "))
	}
	return ScaleDecision{Replicas: desired}
}

// RollDecision is the next step of a rolling restart.
type RollDecision struct {
	// Delete is the pod to delete now (the StatefulSet controller recreates it from the
	// current template); nil when nothing may be deleted yet.
	Delete *corev1.Pod
	// Waiting says what the roll waits for ("" when done or deleting).
	Waiting string
	// Blocked, when set, explains why the roll cannot proceed without a user's action.
	Blocked string
	// Pending is the number of pods still on an old template.
	Pending int
	// AwaitsRegistration is set when the roll waits only for the nameservers to list a
	// restarted broker: something no watch reports, so the caller should look again soon.
	AwaitsRegistration bool
}

// waitingReasons are container states that will not turn Ready by themselves.
var waitingReasons = map[string]bool{
	"CrashLoopBackOff": true, "ImagePullBackOff": true, "ErrImagePull": true, "InvalidImageName": true,
	"CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true,
}

// stuck returns why a pod is unlikely to become Ready on its own ("" if it may).
func stuck(p *corev1.Pod) string {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Waiting != nil && waitingReasons[cs.State.Waiting.Reason] {
			return cs.State.Waiting.Reason
		}
		if cs.RestartCount > 0 && !cs.Ready {
			return fmt.Sprintf("restarted %d times", cs.RestartCount)
		}
	}
	return ""
}

// Roll decides the next step of an ordered rolling restart of a BrokerGroup whose StatefulSet
// uses the OnDelete strategy. A pod is outdated when its pod-template-hash annotation differs
// from the StatefulSet template's. The rules, in order:
//
//  1. Nothing happens until the StatefulSet controller has observed the current template
//     (status.observedGeneration), so a deleted pod comes back on the new template.
//  2. Nothing happens while a pod is terminating.
//  3. An outdated pod that is not Ready serves nothing: it is replaced at once (highest ordinal
//     first), so a broken configuration can always be fixed by a new one.
//  4. Otherwise every pod the StatefulSet should have must exist and be Ready - and, when the
//     operator can ask the nameservers (registered != nil), be registered - before the
//     highest-ordinal outdated pod is deleted. Ordinal 0, the master, is therefore last.
func Roll(stsName string, sts *appsv1.StatefulSet, pods []corev1.Pod, registered map[int64]bool) RollDecision {
	if sts == nil {
		return RollDecision{}
	}
	hash := sts.Spec.Template.Annotations[metadata.AnnotationPodTemplateHash]
	replicas := int32(0)
	if sts.Spec.Replicas != nil {
		replicas = *sts.Spec.Replicas
	}
	ordered := status.OrderedPods(stsName, pods)
	var outdated []status.OrdinalPod
	for _, op := range ordered {
		// Pods beyond the replica count are being removed by a scale-down; no need to roll them.
		if op.Ordinal < int(replicas) && op.Pod.DeletionTimestamp == nil && !status.PodUpdated(op.Pod, hash) {
			outdated = append(outdated, op)
		}
	}
	d := RollDecision{Pending: len(outdated)}
	if len(outdated) == 0 {
		return d
	}
	if sts.Status.ObservedGeneration < sts.Generation {
		d.Waiting = "the StatefulSet controller to observe the new template"
		return d
	}
	for _, op := range ordered {
		if op.Pod.DeletionTimestamp != nil {
			d.Waiting = op.Pod.Name + " to terminate"
			return d
		}
	}
	for i := len(outdated) - 1; i >= 0; i-- {
		if !status.PodReady(outdated[i].Pod) {
			d.Delete = outdated[i].Pod
			return d
		}
	}
	byOrdinal := map[int]*corev1.Pod{}
	for _, op := range ordered {
		byOrdinal[op.Ordinal] = op.Pod
	}
	for i := 0; i < int(replicas); i++ {
		p, ok := byOrdinal[i]
		if !ok {
			d.Waiting = metadata.PodName(stsName, i) + " to be created"
			return d
		}
		if !status.PodReady(p) {
			d.Waiting = p.Name + " to become Ready"
			if why := stuck(p); why != "" {
				d.Blocked = fmt.Sprintf("the rolling restart waits for %s, which runs the new template but is not Ready (%s); "+
					"fix the spec and the operator replaces it", p.Name, why)
			}
			return d
		}
		if registered != nil && status.PodUpdated(p, hash) && !registered[int64(i)] {
			d.Waiting = p.Name + " to register with the nameservers"
			d.AwaitsRegistration = true
			return d
		}
	}
	d.Delete = outdated[len(outdated)-1].Pod
	return d
}
