// Strings a Kotlin app hands over may hold what UTF-8 cannot encode: a lone UTF-16 surrogate,
// half of an emoji that a length filter (take(n), substring) cut in two. The generated code
// encodes every string before Rust sees it and throws java.nio.charset.MalformedInputException
// for one; this turns that into FieldException.InvalidInput naming the field that holds it.

package app.fieldsync

import java.lang.reflect.Modifier
import java.nio.charset.CharacterCodingException

/** Calls into the generated code with the inputs named, for typed errors. */
internal object Checked {
    /** Runs [block]; a string it could not encode becomes [FieldException.InvalidInput]. */
    inline fun <T> call(vararg inputs: Pair<String, Any?>, block: () -> T): T =
        try {
            block()
        } catch (e: CharacterCodingException) {
            throw invalidText(inputs, e)
        }

    /** [call] for a suspend [block]. */
    suspend inline fun <T> suspending(vararg inputs: Pair<String, Any?>, crossinline block: suspend () -> T): T =
        try {
            block()
        } catch (e: CharacterCodingException) {
            throw invalidText(inputs, e)
        }

    /** The typed error for a string among [inputs] that UTF-8 cannot encode. */
    fun invalidText(inputs: Array<out Pair<String, Any?>>, cause: CharacterCodingException): FieldException {
        // A string argument is named; in a record, the field is (`title`, not `report.title`).
        val found = inputs.firstNotNullOfOrNull { (name, value) ->
            LoneSurrogates.find(value, if (value is String) snake(name) else "")
        }
        val error = when (found) {
            null -> FieldException.InvalidInput(
                inputs.firstOrNull()?.first?.let(::snake) ?: "text",
                "holds text that is not valid Unicode (a lone UTF-16 surrogate: half of a character cut in two)",
            )
            else -> FieldException.InvalidInput(
                found.first,
                "holds a lone UTF-16 surrogate at index ${found.second} (half of a character such " +
                    "as an emoji, cut in two, e.g. by a length limit): remove it or keep the whole character",
            )
        }
        error.initCause(cause)
        return error
    }

    /** A Kotlin name as core names fields in errors (`createdBy` → `created_by`). */
    fun snake(name: String): String = name.replace(Regex("([a-z0-9])([A-Z])"), "$1_$2").lowercase()
}

/** Finds the string holding a lone surrogate in a value of the generated types. */
internal object LoneSurrogates {
    /** Index of the first lone surrogate of [s], or -1. */
    fun indexIn(s: String): Int {
        var i = 0
        while (i < s.length) {
            val c = s[i]
            when {
                Character.isHighSurrogate(c) ->
                    if (i + 1 < s.length && Character.isLowSurrogate(s[i + 1])) i += 1 else return i
                Character.isLowSurrogate(c) -> return i
            }
            i += 1
        }
        return -1
    }

    /**
     * The path (`title`, `entry.text`, `parties[1].name`) and index of the first lone surrogate
     * in [value], a string, a list or a record of the generated bindings; `null` if none.
     */
    fun find(value: Any?, path: String): Pair<String, Int>? = when (value) {
        null -> null
        is String -> indexIn(value).takeIf { it >= 0 }?.let { path to it }
        is Collection<*> -> value.withIndex().firstNotNullOfOrNull { (i, v) -> find(v, "$path[$i]") }
        is Map<*, *> -> value.entries.firstNotNullOfOrNull { (k, v) -> find(k, path) ?: find(v, "$path[$k]") }
        else -> if (value.javaClass.name.startsWith("app.fieldsync.")) fields(value, path) else null
    }

    /** The fields of a record or of an enum's variant (generated as classes of `val`s). */
    private fun fields(value: Any, path: String): Pair<String, Int>? {
        var type: Class<*>? = value.javaClass
        while (type != null && type != Any::class.java) {
            for (f in type.declaredFields) {
                if (Modifier.isStatic(f.modifiers) || f.isSynthetic) continue
                val inner = runCatching { f.isAccessible = true; f.get(value) }.getOrNull()
                val name = Checked.snake(f.name)
                find(inner, if (path.isEmpty()) name else "$path.$name")?.let { return it }
            }
            type = type.superclass
        }
        return null
    }
}
