// Package redisstore provides a [breaker.Store] on Redis.
package redisstore
