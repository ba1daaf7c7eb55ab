package main

// pgx-adapter --pool-check CONNSTRING SERVERNAME: pgxpool across a live chain
// rotation of the mock (docs/rotation-in-time.md, "Pools across a rotation").
// The mock rotates after 2 connections: the pool's first two connections
// carry the old chain, later ones the new. Prints one JSON line.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

type poolReport struct {
	Client    string   `json:"client"`
	Before    int      `json:"before"`
	ReusedOK  int      `json:"reused_ok"`
	NewOK     int      `json:"new_ok"`
	NewErrors []string `json:"new_errors"`
	AfterOK   int      `json:"after_ok"`
	Total     int32    `json:"total_connections"`
	Error     string   `json:"error,omitempty"`
}

// use acquires n connections at once (idle ones first, the rest new), runs
// a query on each and returns them with the count that worked and the errors.
func use(ctx context.Context, p *pgxpool.Pool, n int) ([]*pgxpool.Conn, int, []string) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	conns := []*pgxpool.Conn{}
	errs := []string{}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := p.Acquire(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err.Error())
				return
			}
			conns = append(conns, c)
		}()
	}
	wg.Wait()
	ok := 0
	for _, c := range conns {
		var one int
		if err := c.QueryRow(ctx, "select 1").Scan(&one); err != nil {
			errs = append(errs, err.Error())
		} else {
			ok++
		}
	}
	return conns, ok, errs
}

func release(cs []*pgxpool.Conn) {
	for _, c := range cs {
		c.Release()
	}
}

func poolCheck(args []string) int {
	rep := poolReport{Client: "pgxpool", NewErrors: []string{}}
	emitReport := func() {
		b, _ := json.Marshal(rep)
		fmt.Println(string(b))
	}
	if len(args) != 2 {
		rep.Error = "usage: pgx-adapter --pool-check CONNSTRING SERVERNAME"
		emitReport()
		return 2
	}
	cfg, err := pgxpool.ParseConfig(args[0])
	if err != nil {
		rep.Error = err.Error()
		emitReport()
		return 2
	}
	if cfg.ConnConfig.TLSConfig != nil {
		cfg.ConnConfig.TLSConfig.ServerName = args[1]
	}
	cfg.MaxConns = 4
	cfg.MinConns = 0
	cfg.HealthCheckPeriod = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		rep.Error = err.Error()
		emitReport()
		return 1
	}
	defer p.Close()
	first, ok, _ := use(ctx, p, 2) // the two old-chain connections
	rep.Before = ok
	release(first)
	again, ok, _ := use(ctx, p, 2) // reused: still the old chain
	rep.ReusedOK = ok
	more, ok, errs := use(ctx, p, 2) // two held, two new: the new chain
	rep.NewOK, rep.NewErrors = ok, errs
	release(again)
	release(more)
	after, ok, _ := use(ctx, p, 2) // does the pool still serve?
	rep.AfterOK = ok
	release(after)
	rep.Total = p.Stat().TotalConns()
	emitReport()
	_ = os.Stdout.Sync()
	return 0
}
