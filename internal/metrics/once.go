package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Once wraps reg so that registering a collector whose metrics are already
// registered keeps the first registration instead of failing: a process
// that serves more than once (the tests run `server serve` several times
// in one process) exports the metrics of the first server only.
func Once(reg prometheus.Registerer) prometheus.Registerer { return once{reg} }

type once struct{ prometheus.Registerer }

// Register registers c, and returns nil when its metrics are already
// registered.
func (o once) Register(c prometheus.Collector) error {
	err := o.Registerer.Register(c)
	if are := (prometheus.AlreadyRegisteredError{}); errors.As(err, &are) {
		return nil
	}
	return err
}

// MustRegister registers cs, panicking on any error but an already
// registered collector.
func (o once) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := o.Register(c); err != nil {
			panic(err)
		}
	}
}
