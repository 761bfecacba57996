package jsqueue

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is a NATS server with JetStream running inside this process, for
// tests, examples and single-machine use. Connect to it with nats.Connect(s.URL).
// Shutdown must be called to stop its goroutines.
type Server struct {
	// URL is the client URL, nats://127.0.0.1:<port>.
	URL string
	srv *server.Server
}

// StartEmbedded starts a NATS server with JetStream on a free loopback port,
// storing its streams under dir (which the caller owns; streams survive a
// restart on the same dir). It returns once the server accepts connections,
// or an error if it did not within 10s.
func StartEmbedded(dir string) (*Server, error) {
	if dir == "" {
		return nil, errors.New("jsqueue: StartEmbedded: empty dir")
	}
	s, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  dir,
		NoLog:     true,
		NoSigs:    true,
	})
	if err != nil {
		return nil, fmt.Errorf("jsqueue: StartEmbedded: %w", err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, errors.New("jsqueue: StartEmbedded: server not ready within 10s")
	}
	return &Server{URL: s.ClientURL(), srv: s}, nil
}

// Shutdown stops the server and waits until its goroutines have ended.
// Clients connected to it see their connection drop.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}
