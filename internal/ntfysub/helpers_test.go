package ntfysub

import "fmt"

func fmtSscan(id string, n *int64) (int, error) { return fmt.Sscanf(id, "m%d", n) }
