import { ConfigError, loadConfig } from './plugins/config.js'

async function main (): Promise<void> {
  let config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tempclock: configuration error: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }

  // loaded once the configuration is valid: a bad setting is reported without loading the app
  const { buildApp } = await import('./app.js')
  const server = await buildApp(config)

  let closing = false
  const close = (signal: string): void => {
    if (closing) return
    closing = true
    server.log.info({ signal }, 'closing: finishing in-flight requests')
    // in-flight requests finish; new ones get 503; the database is closed in onClose
    const forced = setTimeout(() => {
      server.log.error('graceful close timed out; exiting')
      process.exit(1)
    }, 10_000)
    forced.unref()
    server.close().then(() => process.exit(0), (err: unknown) => {
      server.log.error({ err }, 'error while closing')
      process.exit(1)
    })
  }
  process.on('SIGTERM', () => close('SIGTERM'))
  process.on('SIGINT', () => close('SIGINT'))

  await server.listen({ host: config.host, port: config.port })
}

main().catch((err: unknown) => {
  process.stderr.write(`tempclock: failed to start: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
