package resource

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gorocket/gorocket/api/v1alpha1"
	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/internal/operator/metadata"
)

// OperatorOwnedBrokerKeys are the broker properties the operator derives from the spec and the
// pod; spec.config may not set them. The CRD refuses them too (CEL on spec.config); a test keeps
// both lists equal.
var OperatorOwnedBrokerKeys = []string{
	"brokerClusterName", "brokerName", "brokerId", "brokerRole", "flushDiskType", "namesrvAddr",
	"listenPort", "haListenPort", "brokerIP1", "brokerIP2",
	"storePathRootDir", "storePathCommitLog", "storePathConsumeQueue", "storePathIndex", "storeCheckpoint", "abortFile",
}

// Per-pod environment contract with the broker binary (see docs/operator.md).
const (
	// EnvPodOrdinalAsBrokerID asks the broker to take its brokerId from the ordinal suffix of
	// $POD_NAME ("<statefulset>-<n>") and, when n > 0, to run as SLAVE. The file carries the
	// master's values (brokerId=0, brokerRole SYNC_MASTER or ASYNC_MASTER).
	EnvPodOrdinalAsBrokerID = "GOROCKET_POD_ORDINAL_AS_BROKER_ID"
)

// BrokerConfigInput is what the broker configuration is rendered from.
type BrokerConfigInput struct {
	Group *v1alpha1.BrokerGroup
	// NameServerAddrs is the resolved namesrvAddr list (host:port).
	NameServerAddrs []string
}

// BrokerProperties builds the configuration shared by the group's pods: the master's view
// (brokerId 0). Each pod overrides brokerId/brokerRole and brokerIP1/brokerIP2 through its
// environment. Errors caused by spec.config wrap ErrInvalidSpec.
func BrokerProperties(in BrokerConfigInput) (conf.BrokerConfig, error) {
	g := in.Group
	c := conf.DefaultBroker()
	keys := make([]string, 0, len(g.Spec.Config))
	for k := range g.Spec.Config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		if slices.Contains(OperatorOwnedBrokerKeys, k) {
			errs = append(errs, fmt.Errorf("spec.config: %s is set by the operator from the spec", k))
			continue
		}
		if err := c.Set(k, g.Spec.Config[k]); err != nil {
			errs = append(errs, fmt.Errorf("spec.config: %w", err))
		}
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("%w: %w", ErrInvalidSpec, errors.Join(errs...))
	}
	c.BrokerClusterName = g.Spec.ClusterName
	if c.BrokerClusterName == "" {
		c.BrokerClusterName = "DefaultCluster"
	}
	c.BrokerName = g.EffectiveBrokerName()
	c.BrokerID = 0
	c.BrokerRole = conf.RoleAsyncMaster
	if g.Spec.ReplicationMode == v1alpha1.ReplicationSync {
		c.BrokerRole = conf.RoleSyncMaster
	}
	c.FlushDiskType = conf.FlushAsync
	if g.Spec.FlushDiskType == v1alpha1.FlushSync {
		c.FlushDiskType = conf.FlushSync
	}
	c.NamesrvAddr = slices.Clone(in.NameServerAddrs)
	c.ListenPort = int(metadata.BrokerPort)
	c.HAListenPort = int(metadata.BrokerHAPort)
	c.BrokerIP1, c.BrokerIP2 = "", ""
	c.StorePathRootDir = metadata.StoreRootDir
	c.StorePathCommitLog = metadata.StoreCommitLogDir
	c.StorePathConsumeQueue, c.StorePathIndex, c.StoreCheckpoint, c.AbortFile = "", "", "", ""

	// Validate both views a pod can take: the master's and a slave's.
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%w: broker configuration: %w", ErrInvalidSpec, err)
	}
	slave := c
	slave.BrokerID, slave.BrokerRole = 1, conf.RoleSlave
	if err := slave.Validate(); err != nil {
		return c, fmt.Errorf("%w: slave configuration: %w", ErrInvalidSpec, err)
	}
	return c, nil
}

// RenderBrokerProperties renders the group's broker.properties and its hash.
func RenderBrokerProperties(in BrokerConfigInput) (data string, hash string, err error) {
	c, err := BrokerProperties(in)
	if err != nil {
		return "", "", err
	}
	b := c.Render()
	return string(b), hashBytes(b), nil
}

// envName is the conf environment variable of a broker key.
func envName(key string) string {
	for _, k := range conf.BrokerKeys() {
		if k.Key == key {
			return k.Env
		}
	}
	// The keys used here are fixed RocketMQ names; a miss is a programming error caught by tests.
	return conf.EnvName(strings.TrimSpace(key))
}
