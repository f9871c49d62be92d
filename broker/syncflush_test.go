package broker

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorocket/gorocket/broker/internal/message"
	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// TestSyncFlushSendsAnswerWhenDurable: on a SYNC_FLUSH broker, concurrent sends are answered
// from the flusher (no handler waits) and only once their bytes are durable; a WAIT=false send
// is answered without waiting; every stored message is readable afterwards.
func TestSyncFlushSendsAnswerWhenDurable(t *testing.T) {
	tb := startTestBroker(t, t.TempDir(), func(c *conf.BrokerConfig) { c.FlushDiskType = "SYNC_FLUSH" })
	st := tb.store.(*storeAdapter).st
	const senders, each = 16, 20
	var wg sync.WaitGroup
	errs := make(chan string, senders*each)
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				resp := tb.call(t, protocol.NewRequest(protocol.ReqSendMessage, sendHeader("SF", g%4, map[string]string{"KEYS": "k" + strconv.Itoa(i)}), []byte("durable")))
				if resp.Code != protocol.RespSuccess {
					errs <- "send: " + resp.String()
					return
				}
				// The reply's msgId encodes the record's commit-log offset: it must be durable.
				_, phys, err := message.ParseOffsetMsgID(resp.ExtField("msgId"))
				if err != nil {
					errs <- "msgId: " + err.Error()
					return
				}
				if flushed := st.FlushedPhyOffset(); flushed <= phys {
					errs <- "SUCCESS for the record at " + strconv.FormatInt(phys, 10) + " while only " + strconv.FormatInt(flushed, 10) + " bytes are durable"
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	if got, want := st.FlushedPhyOffset(), st.MaxPhyOffset(); got != want {
		t.Fatalf("after every reply: flushed %d, max %d", got, want)
	}
	// The consume queues are dispatched asynchronously after the commit: poll.
	if err := waitFor(10*time.Second, func() error {
		total := int64(0)
		for q := range 4 {
			total += tb.store.MaxOffset("SF", q)
		}
		if total != senders*each {
			return fmt.Errorf("%d messages in the consume queues, want %d", total, senders*each)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	resp := tb.call(t, protocol.NewRequest(protocol.ReqSendMessage, sendHeader("SF", 0, map[string]string{"WAIT": "false"}), []byte("no wait")))
	if resp.Code != protocol.RespSuccess {
		t.Fatalf("WAIT=false send: %s", resp)
	}
}
