// Package deploy holds what runs Seatflow beyond one machine: the image
// build, the NATS cluster configs, Prometheus and Grafana provisioning used
// by the top-level docker-compose.yml. Its tests validate the compose file
// with the compose specification's own loader (there is no Docker engine in
// CI) and check that the pieces fit together.
package deploy
