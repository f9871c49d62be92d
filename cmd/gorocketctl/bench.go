package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/gorocket/gorocket/client"
	"github.com/gorocket/gorocket/client/admin"
	"github.com/gorocket/gorocket/cmd/gorocketctl/internal/bench"
)

func (a *app) benchCmd() *cobra.Command {
	var profile string
	var stopProfile func()
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load-test a cluster (RocketMQ benchmark style)",
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := cmd.Root().PersistentPreRunE(cmd, args); err != nil {
				return err
			}
			if profile == "" {
				return nil
			}
			f, err := os.Create(profile)
			if err != nil {
				return fmt.Errorf("--cpuprofile: %w", err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				return fmt.Errorf("--cpuprofile: %w", err)
			}
			stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
			return nil
		},
		PersistentPostRun: func(*cobra.Command, []string) {
			if stopProfile != nil {
				stopProfile()
			}
		},
	}
	cmd.PersistentFlags().StringVar(&profile, "cpuprofile", "", "write a CPU profile of gorocketctl (the load generator) to this file")
	cmd.AddCommand(a.benchProducerCmd(), a.benchConsumerCmd())
	return cmd
}

func (a *app) benchProducerCmd() *cobra.Command {
	cfg := bench.ProducerConfig{Topic: "BenchmarkTopic", Threads: 4, Size: 1024, Duration: 10 * time.Second,
		Mode: bench.ModeSync, BatchSize: 16, Window: 64}
	var cluster string
	var queues int
	var compress bool
	cmd := &cobra.Command{
		Use:   "producer [-t topic] [-w threads] [-s size] [-d duration] [--mode sync|async|batch] [--batch-size 16]",
		Short: "Send messages as fast as possible; print send TPS and latency",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Validate(); err != nil {
				return usageErr("bench producer: %v", err)
			}
			ns, err := a.nameServers()
			if err != nil {
				return err
			}
			if cluster != "" {
				ad, err := admin.New(a.log, admin.Options{NameServers: ns, Timeout: a.timeout})
				if err != nil {
					return err
				}
				_, err = ad.CreateTopic(cmd.Context(), admin.TopicSpec{Topic: cfg.Topic, Cluster: cluster, ReadQueues: queues, WriteQueues: queues})
				ad.Close()
				if err != nil {
					return err
				}
				a.log.Info("topic created", "topic", cfg.Topic, "cluster", cluster, "queues", queues)
			}
			o := client.ProducerOptions{Options: client.Options{NameServers: ns, Timeout: a.timeout}, Group: "bench_producer_group"}
			if !compress {
				o.CompressOver = -1
			}
			p, err := client.NewProducer(a.log, o)
			if err != nil {
				return err
			}
			defer p.Close()
			_, err = bench.RunProducer(cmd.Context(), a.stdout, p, cfg)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cfg.Topic, "topic", "t", cfg.Topic, "topic (auto-created through TBW102 unless -c is given)")
	f.IntVarP(&cfg.Threads, "threads", "w", cfg.Threads, "sending goroutines")
	f.IntVarP(&cfg.Size, "size", "s", cfg.Size, "message body size in bytes")
	f.DurationVarP(&cfg.Duration, "duration", "d", cfg.Duration, "how long to send")
	f.StringVar(&cfg.Mode, "mode", cfg.Mode, "sync (await each reply), async (--window replies outstanding per thread) or batch")
	f.IntVar(&cfg.BatchSize, "batch-size", cfg.BatchSize, "messages per batch (--mode batch)")
	f.IntVar(&cfg.Window, "window", cfg.Window, "outstanding async sends per thread (--mode async)")
	f.StringVar(&cfg.Tag, "tag", "bench", "message tag")
	f.StringVarP(&cluster, "cluster", "c", "", "create (or update) the topic on this cluster's masters first")
	f.IntVar(&queues, "queues", 8, "queue count when creating the topic (-c)")
	f.BoolVar(&compress, "compress", false, "let the client compress bodies of 4 KiB or more (off: measure the broker, not zlib)")
	return cmd
}

func (a *app) benchConsumerCmd() *cobra.Command {
	cfg := bench.ConsumerConfig{Topic: "BenchmarkTopic", Group: "bench_consumer_group", Instances: 1, Duration: 10 * time.Second}
	cmd := &cobra.Command{
		Use:   "consumer [-t topic] [-g group] [-w consumers] [-d duration] [--from-first]",
		Short: "Consume a topic; print consume TPS and store-to-consume latency",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ns, err := a.nameServers()
			if err != nil {
				return err
			}
			cfg.Options = client.Options{NameServers: ns, Timeout: a.timeout}
			_, err = bench.RunConsumer(cmd.Context(), a.stdout, cfg, a.log.Warn)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cfg.Topic, "topic", "t", cfg.Topic, "topic")
	f.StringVarP(&cfg.Group, "group", "g", cfg.Group, "consumer group")
	f.IntVarP(&cfg.Instances, "threads", "w", cfg.Instances, "consumers in the group (they share the queues)")
	f.DurationVarP(&cfg.Duration, "duration", "d", cfg.Duration, "how long to consume")
	f.BoolVar(&cfg.FromFirst, "from-first", false, "a group without committed offsets starts at the oldest message (default: newest)")
	return cmd
}
