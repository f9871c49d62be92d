package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/gorocket/gorocket/client"
	"github.com/gorocket/gorocket/client/admin"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// adminCmds returns the mqadmin verbs.
func (a *app) adminCmds() []*cobra.Command {
	return []*cobra.Command{
		a.updateTopicCmd(), a.deleteTopicCmd(), a.topicListCmd(), a.topicRouteCmd(), a.topicStatusCmd(),
		a.clusterListCmd(), a.brokerStatusCmd(), a.updateSubGroupCmd(), a.consumerProgressCmd(),
		a.queryMsgByOffsetCmd(), a.queryMsgByKeyCmd(), a.queryMsgByUniqueKeyCmd(),
	}
}

// withAdmin runs fn with an admin client, closing it afterwards.
func (a *app) withAdmin(fn func(*admin.Client) error) error {
	c, err := a.admin()
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c)
}

func required(cmd *cobra.Command, names ...string) error {
	for _, n := range names {
		if !cmd.Flags().Changed(n) {
			return usageErr("%s: flag --%s is required", cmd.Name(), n)
		}
	}
	return nil
}

func (a *app) updateTopicCmd() *cobra.Command {
	var spec admin.TopicSpec
	cmd := &cobra.Command{
		Use:   "updateTopic -t topic (-c cluster | -b brokerAddr) [-r 8] [-w 8] [-p 6] [-o]",
		Short: "Create or update a topic on the masters of a cluster or on one broker",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "topic"); err != nil {
				return err
			}
			if (spec.Cluster == "") == (spec.BrokerAddr == "") {
				return usageErr("updateTopic: give exactly one of -c cluster or -b brokerAddr")
			}
			return a.withAdmin(func(c *admin.Client) error {
				done, err := c.CreateTopic(cmd.Context(), spec)
				for _, addr := range done {
					fmt.Fprintf(a.stdout, "create topic to %s success.\n", addr)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "TopicConfig [topicName=%s, readQueueNums=%d, writeQueueNums=%d, perm=%s, order=%v]\n",
					spec.Topic, spec.ReadQueues, spec.WriteQueues, protocol.PermString(spec.Perm), spec.Order)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&spec.Topic, "topic", "t", "", "topic name")
	f.StringVarP(&spec.Cluster, "cluster", "c", "", "create on every master of this cluster")
	f.StringVarP(&spec.BrokerAddr, "broker", "b", "", "create on this broker (host:port)")
	f.IntVarP(&spec.ReadQueues, "readQueueNums", "r", 8, "read queue count")
	f.IntVarP(&spec.WriteQueues, "writeQueueNums", "w", 8, "write queue count")
	f.IntVarP(&spec.Perm, "perm", "p", 6, "permission: 2 write, 4 read, 6 read+write")
	f.BoolVarP(&spec.Order, "order", "o", false, "ordered topic")
	return cmd
}

func (a *app) deleteTopicCmd() *cobra.Command {
	var topic, cluster string
	cmd := &cobra.Command{
		Use:   "deleteTopic -t topic [-c cluster]",
		Short: "Delete a topic from the brokers (of a cluster) and from every nameserver",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "topic"); err != nil {
				return err
			}
			return a.withAdmin(func(c *admin.Client) error {
				if err := c.DeleteTopic(cmd.Context(), topic, cluster); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "delete topic [%s] from cluster [%s] success.\n", topic, orAll(cluster))
				fmt.Fprintf(a.stdout, "delete topic [%s] from NameServer success.\n", topic)
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&topic, "topic", "t", "", "topic name")
	cmd.Flags().StringVarP(&cluster, "cluster", "c", "", "only this cluster's brokers (default: every broker hosting the topic)")
	return cmd
}

func orAll(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

func (a *app) topicListCmd() *cobra.Command {
	var cluster string
	cmd := &cobra.Command{
		Use:   "topicList [-c cluster]",
		Short: "List the topics the nameserver knows",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withAdmin(func(c *admin.Client) error {
				topics, err := c.TopicList(cmd.Context(), cluster)
				if err != nil {
					return err
				}
				for _, t := range topics {
					fmt.Fprintln(a.stdout, t)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&cluster, "cluster", "c", "", "only this cluster's topics")
	return cmd
}

func (a *app) topicRouteCmd() *cobra.Command {
	var topic string
	cmd := &cobra.Command{
		Use:   "topicRoute -t topic",
		Short: "Print a topic's route (JSON, as mqadmin does)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "topic"); err != nil {
				return err
			}
			return a.withAdmin(func(c *admin.Client) error {
				r, err := c.TopicRoute(cmd.Context(), topic)
				if err != nil {
					return err
				}
				return printJSON(a.stdout, r)
			})
		},
	}
	cmd.Flags().StringVarP(&topic, "topic", "t", "", "topic name")
	return cmd
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format("2006-01-02 15:04:05,000")
}

func (a *app) topicStatusCmd() *cobra.Command {
	var topic string
	cmd := &cobra.Command{
		Use:   "topicStatus -t topic",
		Short: "Print the min/max offsets of every queue of a topic",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "topic"); err != nil {
				return err
			}
			return a.withAdmin(func(c *admin.Client) error {
				st, err := c.TopicStatus(cmd.Context(), topic)
				if len(st) > 0 {
					writeTopicStatus(a.stdout, st)
				}
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&topic, "topic", "t", "", "topic name")
	return cmd
}

func writeTopicStatus(w io.Writer, st []admin.QueueStatus) {
	t := newTable(w, "Broker Name", "QID", "Min Offset", "Max Offset", "Last Updated")
	for _, q := range st {
		t.row(q.Queue.BrokerName, q.Queue.QueueID, q.MinOffset, q.MaxOffset, fmtTime(q.LastUpdate))
	}
	t.flush()
}

func (a *app) clusterListCmd() *cobra.Command {
	var cluster string
	cmd := &cobra.Command{
		Use:   "clusterList [-c cluster]",
		Short: "List the clusters and their brokers with their load",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withAdmin(func(c *admin.Client) error {
				rows, err := fetchClusterRows(cmd.Context(), a, c, cluster)
				if err != nil {
					return err
				}
				writeClusterList(a.stdout, rows)
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&cluster, "cluster", "c", "", "only this cluster")
	return cmd
}

// fetchClusterRows reads the cluster info and each broker's runtime info (a broker that does not
// answer is shown with "-" values and logged).
func fetchClusterRows(ctx context.Context, a *app, c *admin.Client, cluster string) ([]clusterRow, error) {
	ci, err := c.ClusterInfo(ctx)
	if err != nil {
		return nil, err
	}
	rows := clusterRows(ci, cluster)
	for i := range rows {
		info, err := c.BrokerRuntimeInfo(ctx, rows[i].addr)
		if err != nil {
			a.log.Warn("broker runtime info unavailable", "broker", rows[i].addr, "err", err)
			continue
		}
		rows[i].info = info
	}
	return rows, nil
}

// clusterRow is one broker address in clusterList.
type clusterRow struct {
	cluster, broker string
	id              int64
	addr            string
	info            map[string]string
}

// clusterRows flattens cluster info into rows sorted by cluster, broker name and id.
func clusterRows(ci *protocol.ClusterInfo, only string) []clusterRow {
	var rows []clusterRow
	for _, cl := range slices.Sorted(maps.Keys(ci.ClusterAddrTable)) {
		if only != "" && cl != only {
			continue
		}
		names := slices.Clone(ci.ClusterAddrTable[cl])
		slices.Sort(names)
		for _, name := range names {
			bd := ci.BrokerAddrTable[name]
			for _, id := range slices.Sorted(maps.Keys(bd.BrokerAddrs)) {
				rows = append(rows, clusterRow{cluster: cl, broker: name, id: id, addr: bd.BrokerAddrs[id]})
			}
		}
	}
	return rows
}

// firstField returns the first space-separated value of a runtime-info entry ("-" if absent).
func firstField(info map[string]string, key string) string {
	v, ok := info[key]
	if !ok || strings.TrimSpace(v) == "" {
		return "-"
	}
	return strings.Fields(v)[0]
}

func writeClusterList(w io.Writer, rows []clusterRow) {
	t := newTable(w, "Cluster Name", "Broker Name", "BID", "Addr", "Role", "Version", "InTPS", "OutTPS", "PutToday", "GetToday", "DiskRatio")
	for _, r := range rows {
		t.row(r.cluster, r.broker, r.id, r.addr, firstField(r.info, "brokerRole"), firstField(r.info, "brokerVersionDesc"),
			firstField(r.info, "putTps"), firstField(r.info, "getTransferedTps"),
			firstField(r.info, "msgPutTotalTodayNow"), firstField(r.info, "msgGetTotalTodayNow"), firstField(r.info, "commitLogDiskRatio"))
	}
	t.flush()
}

func (a *app) brokerStatusCmd() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "brokerStatus -b brokerAddr",
		Short: "Print a broker's runtime information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "brokerAddr"); err != nil {
				return err
			}
			return a.withAdmin(func(c *admin.Client) error {
				info, err := c.BrokerRuntimeInfo(cmd.Context(), addr)
				if err != nil {
					return err
				}
				writeKV(a.stdout, info)
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&addr, "brokerAddr", "b", "", "broker address host:port")
	return cmd
}

func writeKV(w io.Writer, kv map[string]string) {
	t := newTable(w, "Key", "Value")
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		t.row(k, kv[k])
	}
	t.flush()
}

func (a *app) updateSubGroupCmd() *cobra.Command {
	var cluster, broker string
	cfg := protocol.DefaultSubscriptionGroupConfig("")
	cmd := &cobra.Command{
		Use:   "updateSubGroup -g group (-c cluster | -b brokerAddr) [options]",
		Short: "Create or update a consumer group's configuration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "groupName"); err != nil {
				return err
			}
			if (cluster == "") == (broker == "") {
				return usageErr("updateSubGroup: give exactly one of -c cluster or -b brokerAddr")
			}
			return a.withAdmin(func(c *admin.Client) error {
				done, err := c.UpdateSubscriptionGroup(cmd.Context(), cluster, broker, cfg)
				for _, addr := range done {
					fmt.Fprintf(a.stdout, "create subscription group to %s success.\n", addr)
				}
				if err != nil {
					return err
				}
				return printJSON(a.stdout, cfg)
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cfg.GroupName, "groupName", "g", "", "consumer group")
	f.StringVarP(&cluster, "clusterName", "c", "", "every master of this cluster")
	f.StringVarP(&broker, "brokerAddr", "b", "", "one broker (host:port)")
	f.BoolVarP(&cfg.ConsumeEnable, "consumeEnable", "s", true, "allow consumption")
	f.BoolVarP(&cfg.ConsumeFromMinEnable, "consumeFromMinEnable", "m", true, "consume from the minimum offset when the group is new")
	f.BoolVarP(&cfg.ConsumeBroadcastEnable, "consumeBroadcastEnable", "d", true, "allow broadcasting consumption")
	f.IntVarP(&cfg.RetryQueueNums, "retryQueueNums", "q", 1, "retry queue count")
	f.IntVarP(&cfg.RetryMaxTimes, "retryMaxTimes", "r", 16, "retries before the dead-letter queue")
	f.Int64VarP(&cfg.BrokerID, "brokerId", "i", 0, "broker id consumed from")
	f.Int64VarP(&cfg.WhichBrokerWhenConsumeSlowly, "whichBrokerWhenConsumeSlowly", "w", 1, "broker id to consume from when slow")
	f.BoolVarP(&cfg.NotifyConsumerIdsChangedEnable, "notifyConsumerIdsChanged", "a", true, "notify members when the group changes")
	return cmd
}

func (a *app) consumerProgressCmd() *cobra.Command {
	var group, topic string
	cmd := &cobra.Command{
		Use:   "consumerProgress -g group [-t topic]",
		Short: "Print a consumer group's progress (broker offset, consumer offset, diff) per queue",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "groupName"); err != nil {
				return err
			}
			return a.withAdmin(func(c *admin.Client) error {
				p, err := c.ConsumerProgress(cmd.Context(), group, topic)
				if p != nil {
					writeProgress(a.stdout, p)
				}
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&group, "groupName", "g", "", "consumer group")
	cmd.Flags().StringVarP(&topic, "topic", "t", "", "only this topic")
	return cmd
}

func writeProgress(w io.Writer, p *admin.Progress) {
	t := newTable(w, "Topic", "Broker Name", "QID", "Broker Offset", "Consumer Offset", "Diff", "LastTime")
	for _, q := range p.Queues {
		t.row(q.Queue.Topic, q.Queue.BrokerName, q.Queue.QueueID, q.BrokerOffset, q.ConsumerOffset, q.Diff(), fmtTime(q.LastTimestamp))
	}
	t.flush()
	fmt.Fprintf(w, "\nConsume TPS: %.2f\nDiff Total: %d\n", p.ConsumeTPS, p.TotalDiff())
}

func (a *app) queryMsgByOffsetCmd() *cobra.Command {
	var q client.MessageQueue
	var offset int64
	cmd := &cobra.Command{
		Use:   "queryMsgByOffset -t topic -b brokerName -i queueId -o offset",
		Short: "Print the message at a queue offset",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "topic", "brokerName", "queueId", "offset"); err != nil {
				return err
			}
			return a.withAdmin(func(c *admin.Client) error {
				m, err := c.QueryMessageByOffset(cmd.Context(), q, offset)
				if err != nil {
					return err
				}
				writeMessage(a.stdout, m)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&q.Topic, "topic", "t", "", "topic")
	f.StringVarP(&q.BrokerName, "brokerName", "b", "", "broker name (e.g. broker-a)")
	f.IntVarP(&q.QueueID, "queueId", "i", 0, "queue id")
	f.Int64VarP(&offset, "offset", "o", 0, "queue offset")
	return cmd
}

func (a *app) queryMsgByKeyCmd() *cobra.Command {
	var topic, key string
	var maxNum int
	cmd := &cobra.Command{
		Use:   "queryMsgByKey -t topic -k key",
		Short: "Find messages by a KEYS value",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "topic", "msgKey"); err != nil {
				return err
			}
			return a.withAdmin(func(c *admin.Client) error {
				ms, err := c.QueryMessageByKey(cmd.Context(), topic, key, maxNum, time.Time{}, time.Time{})
				if err != nil {
					return err
				}
				t := newTable(a.stdout, "Message ID", "QID", "Offset", "Store Time")
				for _, m := range ms {
					t.row(m.MsgID, m.QueueID, m.QueueOffset, fmtTime(time.UnixMilli(m.StoreTimestamp)))
				}
				return t.flush()
			})
		},
	}
	cmd.Flags().StringVarP(&topic, "topic", "t", "", "topic")
	cmd.Flags().StringVarP(&key, "msgKey", "k", "", "message key")
	cmd.Flags().IntVar(&maxNum, "max", 64, "maximum messages per broker")
	return cmd
}

func (a *app) queryMsgByUniqueKeyCmd() *cobra.Command {
	var topic, id string
	cmd := &cobra.Command{
		Use:   "queryMsgByUniqueKey -t topic -i msgId",
		Short: "Print a message by its id (client UNIQ_KEY or broker offset message id)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "topic", "msgId"); err != nil {
				return err
			}
			return a.withAdmin(func(c *admin.Client) error {
				ms, err := c.QueryMessageByUniqueKey(cmd.Context(), topic, id)
				if err != nil {
					return err
				}
				for i, m := range ms {
					if i > 0 {
						fmt.Fprintln(a.stdout)
					}
					writeMessage(a.stdout, m)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&topic, "topic", "t", "", "topic")
	cmd.Flags().StringVarP(&id, "msgId", "i", "", "message id")
	return cmd
}

// writeMessage prints one message in mqadmin's key: value layout.
func writeMessage(w io.Writer, m *client.MessageExt) {
	t := newTable(w, "Field", "Value")
	props := make([]string, 0, len(m.Properties))
	for _, k := range slices.Sorted(maps.Keys(m.Properties)) {
		props = append(props, k+"="+m.Properties[k])
	}
	body := string(m.Body)
	if !utf8.Valid(m.Body) {
		body = fmt.Sprintf("(%d bytes, not UTF-8)", len(m.Body))
	} else if len(body) > 200 {
		body = body[:200] + "... (" + strconv.Itoa(len(m.Body)) + " bytes)"
	}
	for _, kv := range [][2]any{
		{"Message ID", m.MsgID}, {"OffsetID", m.OffsetMsgID}, {"Topic", m.Topic}, {"Tags", "[" + m.Tag() + "]"},
		{"Keys", fmt.Sprint(m.Keys())}, {"Queue ID", m.QueueID}, {"Queue Offset", m.QueueOffset},
		{"CommitLog Offset", m.CommitLogOffset}, {"Reconsume Times", m.ReconsumeTimes},
		{"Born Timestamp", fmtTime(time.UnixMilli(m.BornTimestamp))}, {"Store Timestamp", fmtTime(time.UnixMilli(m.StoreTimestamp))},
		{"Born Host", m.BornHost}, {"Store Host", m.StoreHost}, {"System Flag", m.SysFlag},
		{"Properties", "{" + strings.Join(props, ", ") + "}"}, {"Body", strconv.Quote(body)},
	} {
		t.row(kv[0], kv[1])
	}
	t.flush()
}
