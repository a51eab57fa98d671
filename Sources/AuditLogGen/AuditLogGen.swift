// AuditLogGen module placeholder
