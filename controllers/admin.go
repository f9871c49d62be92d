package controllers

import (
	"context"
)

// AdminClient is the small part of the cluster admin API the operator uses. The real
// implementation talks to the nameservers over the RocketMQ protocol (client/admin, wired in
// cmd/operator); tests use a fake. The controllers never reach a running cluster any other way.
type AdminClient interface {
	// ClusterInfo asks the nameservers at namesrvAddrs (host:port) which brokers are
	// registered (RocketMQ GET_BROKER_CLUSTER_INFO).
	ClusterInfo(ctx context.Context, namesrvAddrs []string) (*ClusterInfo, error)
	// Close releases the client's connections.
	Close() error
}

// ClusterInfo is the registration table of a gorocket cluster as the nameservers see it.
type ClusterInfo struct {
	// BrokerAddrs maps brokerName to brokerId to the broker's address (host:port).
	BrokerAddrs map[string]map[int64]string
	// Clusters maps brokerClusterName to its brokerNames.
	Clusters map[string][]string
}

// Registered reports whether brokerId of brokerName is registered under clusterName.
func (c *ClusterInfo) Registered(clusterName, brokerName string, brokerID int64) bool {
	if c == nil {
		return false
	}
	inCluster := false
	for _, n := range c.Clusters[clusterName] {
		inCluster = inCluster || n == brokerName
	}
	_, ok := c.BrokerAddrs[brokerName][brokerID]
	return inCluster && ok
}

// AdminClientFactory opens an AdminClient. A nil factory disables every check that needs a
// running cluster (registration before a roll proceeds, the BrokersRegistered condition); the
// operator then relies on pod readiness alone.
type AdminClientFactory func() (AdminClient, error)
