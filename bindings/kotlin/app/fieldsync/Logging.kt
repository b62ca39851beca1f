// Where the library's log messages go from a Kotlin app: the platform log by default
// (android.util.Log on Android, java.util.logging on a JVM without it), or the app's own hook.

package app.fieldsync

import java.lang.reflect.Method
import java.util.logging.Level
import java.util.logging.Logger

/** Installs and replaces the library's log hook. */
internal object Logging {
    private var installed = false

    /** Sends the library's messages to the platform log, once per process. */
    @Synchronized
    fun installPlatformDefault() {
        if (!installed) {
            installed = true
            setLogHook(PlatformLog)
        }
    }

    /** Sends them to [hook], or to the platform log again when it is `null`. */
    @Synchronized
    fun set(hook: ((LogLevel, String, String) -> Unit)?) {
        installed = true
        setLogHook(hook?.let(::LambdaHook) ?: PlatformLog)
    }
}

/** An app's hook as a lambda; what it throws is reported by the library on standard error. */
private class LambdaHook(private val hook: (LogLevel, String, String) -> Unit) : LogHook {
    override fun log(level: LogLevel, tag: String, message: String) =
        Listeners.reporting { hook(level, tag, message) }
}

/** `android.util.Log` when it is there, else `java.util.logging` (`app.fieldsync.<tag>`). */
internal object PlatformLog : LogHook {
    private val android: Method? = runCatching {
        Class.forName("android.util.Log").getMethod(
            "println",
            Int::class.javaPrimitiveType,
            String::class.java,
            String::class.java,
        )
    }.getOrNull()

    override fun log(level: LogLevel, tag: String, message: String) {
        val println = android
        if (println != null) {
            // android.util.Log.INFO, WARN, ERROR.
            val priority = when (level) {
                LogLevel.INFO -> 4
                LogLevel.WARN -> 5
                LogLevel.ERROR -> 6
            }
            println.invoke(null, priority, "fieldsync.$tag", message)
            return
        }
        val jul = when (level) {
            LogLevel.INFO -> Level.INFO
            LogLevel.WARN -> Level.WARNING
            LogLevel.ERROR -> Level.SEVERE
        }
        Logger.getLogger("app.fieldsync.$tag").log(jul, message)
    }
}
