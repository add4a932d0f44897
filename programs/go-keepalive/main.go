// go-keepalive: the article's Go client (C4b). It dials the server, turns
// keepalive on with SetKeepAlivePeriod(period), then blocks reading until the
// connection fails, and says what happened on stdout:
//
//	go-keepalive HOST PORT [PERIOD]      (PERIOD defaults to 5s)
//
// Before Go 1.23, SetKeepAlivePeriod(P) sets TCP_KEEPIDLE = TCP_KEEPINTVL = P
// and leaves TCP_KEEPCNT at the system's value (9 by default). From Go 1.23 on
// it sets only the idle time (KeepAliveConfig has Idle, Interval and Count):
// the first line names the Go version, so a report says which rule applied.
package main

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: go-keepalive HOST PORT [PERIOD]")
		os.Exit(2)
	}
	period := 5 * time.Second
	if len(os.Args) > 3 {
		p, err := time.ParseDuration(os.Args[3])
		if err != nil {
			fmt.Fprintln(os.Stderr, "bad period:", err)
			os.Exit(2)
		}
		period = p
	}
	fmt.Printf("go version %s, keepalive period %s\n", runtime.Version(), period)
	conn, err := net.Dial("tcp", net.JoinHostPort(os.Args[1], os.Args[2]))
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(1)
	}
	tcp := conn.(*net.TCPConn)
	if err := tcp.SetKeepAlive(true); err != nil {
		fmt.Println("SetKeepAlive:", err)
		os.Exit(1)
	}
	if err := tcp.SetKeepAlivePeriod(period); err != nil {
		fmt.Println("SetKeepAlivePeriod:", err)
		os.Exit(1)
	}
	fmt.Println("connected", conn.LocalAddr(), "->", conn.RemoteAddr())
	buf := make([]byte, 4096)
	start := time.Now()
	for {
		n, err := conn.Read(buf)
		if err != nil {
			fmt.Printf("read: %v after %.3fs\n", err, time.Since(start).Seconds())
			os.Exit(1)
		}
		fmt.Printf("received %d bytes\n", n)
	}
}
