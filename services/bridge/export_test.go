package bridge

import "time"

// SetCongestionLimit shortens how long a control client may leave its
// output unread before it is closed, until the returned restore is called.
// Call it before the Service runs.
func SetCongestionLimit(d time.Duration) (restore func()) {
	old := congestionLimit
	congestionLimit = d
	return func() { congestionLimit = old }
}
